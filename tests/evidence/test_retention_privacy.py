"""Retention purge, results report, consent and data-subject requests."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

from accounts.models import AccountAuditEntry, AuthToken, Candidate, WechatIdentity
from config.errors import ApplicationError
from exams.models import Attempt, AttemptEvent, Incident
from media_pipeline.evidence import errors, selectors
from media_pipeline.evidence.models import ExportJob, MonitoringConsent, PurgeRecord
from media_pipeline.evidence.services import (
    Actor,
    candidate_data_delete,
    candidate_data_export,
    consent_record,
    evidence_purge,
    export_job_build,
    export_job_create,
    results_report_write,
)
from media_pipeline.models import AudioBatch, FrameAnalysis, Snapshot
from monitor.console.models import ReviewVerdict
from tests.evidence import factories

pytestmark = pytest.mark.django_db


def _exists(key: str) -> bool:
    return bool(storages["evidence"].exists(key))


def _with_photo(candidate: Candidate) -> str:
    candidate.photo.save(f"c{candidate.pk}.jpg", ContentFile(factories.jpeg_bytes(candidate.pk)), save=True)
    return str(candidate.photo.name)


@pytest.mark.integration
def test_purge_deletes_past_retention_and_keeps_held_and_disputed() -> None:
    old = factories.session(ends_days_ago=40, retention_days=30)
    recent = factories.session(ends_days_ago=10, retention_days=30)
    shared_image = factories.jpeg_bytes(424242)
    expired = factories.attempt(exam_session=old, snapshots=2)
    # Same image bytes in an expired attempt and a recent one: one stored file, two rows.
    expired_shared = factories.attempt(exam_session=old, images=[shared_image])
    kept_recent = factories.attempt(exam_session=recent, images=[shared_image, factories.jpeg_bytes(7)])
    held = factories.attempt(exam_session=old, snapshots=2)
    Attempt.objects.filter(pk=held.attempt.pk).update(legal_hold=True)
    disputed = factories.attempt(exam_session=old, snapshots=1)
    Incident.objects.filter(attempt=disputed.attempt).update(status=Incident.Status.OPEN)
    photo_expired = _with_photo(expired.attempt.candidate)
    photo_held = _with_photo(held.attempt.candidate)
    queued = export_job_create(actor=Actor.command("test"), session_id=old.pk, enqueue=False)
    bundle_job = export_job_build(job_id=queued.pk)
    assert bundle_job.status == ExportJob.Status.DONE
    bundle_key = bundle_job.file_key
    assert _exists(bundle_key)

    # Dry run: reports, deletes nothing.
    before = (Snapshot.objects.count(), AudioBatch.objects.count(), FrameAnalysis.objects.count())
    dry = evidence_purge(actor=Actor.command("test"), dry_run=True)
    assert sorted(dry.attempt_ids) == sorted([expired.attempt.pk, expired_shared.attempt.pk])
    assert sorted(dry.held_attempt_ids) == sorted([held.attempt.pk, disputed.attempt.pk])
    assert (
        dry.counts["snapshots"] == 3
        and dry.counts["files_deleted"] == 2
        and dry.counts["files_kept_shared"] == 1
    )
    assert (Snapshot.objects.count(), AudioBatch.objects.count(), FrameAnalysis.objects.count()) == before
    assert all(_exists(s.storage_key) for s in expired.snapshots) and _exists_default(photo_expired)

    record = evidence_purge(actor=Actor.command("test"))
    # Past retention: rows and files gone.
    for item in (expired, expired_shared):
        assert Snapshot.objects.filter(attempt=item.attempt).count() == 0
        assert AudioBatch.objects.filter(attempt=item.attempt).count() == 0
        assert FrameAnalysis.objects.filter(snapshot__attempt=item.attempt).count() == 0
    assert not any(_exists(s.storage_key) for s in expired.snapshots)
    # The shared file is still referenced by the recent attempt: kept.
    assert _exists(expired_shared.snapshots[0].storage_key)
    assert Snapshot.objects.filter(attempt=kept_recent.attempt).count() == 2
    # Held and disputed attempts: untouched, rows and files.
    for item in (held, disputed):
        assert Snapshot.objects.filter(attempt=item.attempt).count() == len(item.snapshots)
        assert all(_exists(s.storage_key) for s in item.snapshots)
        assert AudioBatch.objects.filter(attempt=item.attempt).count() == 1
    # Personal data: photo and encrypted ID go for the expired candidate, stay for the held one.
    expired_candidate = Candidate.objects.get(pk=expired.attempt.candidate_id)
    assert not expired_candidate.photo and expired_candidate.id_number_encrypted == ""
    assert expired_candidate.id_number_masked and not _exists_default(photo_expired)
    held_candidate = Candidate.objects.get(pk=held.attempt.candidate_id)
    assert held_candidate.photo.name == photo_held and held_candidate.id_number_encrypted
    # The bundle that copied the purged snapshots goes too; outcomes and events stay.
    bundle_job.refresh_from_db()
    assert bundle_job.status == ExportJob.Status.PURGED and not _exists(bundle_key)
    assert AttemptEvent.objects.filter(attempt=expired.attempt).count() == 3
    assert record.counts["snapshots"] == 3 and record.counts["files_deleted"] == 2
    assert record.counts["files_kept_shared"] == 1 and record.counts["photos_deleted"] == 1
    assert record.counts["exports_deleted"] == 1 and record.dry_run is False
    audits = AccountAuditEntry.objects.filter(action="evidence.purge").order_by("at")
    assert [a.details["dry_run"] for a in audits] == [True, False]
    assert audits[1].target == f"purge:{record.pk}"

    # A second run finds nothing more to delete.
    again = evidence_purge(actor=Actor.command("test"))
    assert again.counts["snapshots"] == 0 and again.counts["files_deleted"] == 0


def _exists_default(name: str) -> bool:
    return bool(storages["default"].exists(name))


def test_purge_command_dry_run_lists_and_changes_nothing() -> None:
    old = factories.session(ends_days_ago=200)  # default retention 180 days
    item = factories.attempt(exam_session=old, snapshots=2)
    out = io.StringIO()
    call_command("purge_evidence", "--dry-run", stdout=out)
    assert (
        f"would purge attempt {item.attempt.pk} (session {old.pk}): 2 snapshots, 1 audio batches"
        in out.getvalue()
    )
    assert Snapshot.objects.filter(attempt=item.attempt).count() == 2
    assert PurgeRecord.objects.get().dry_run is True
    call_command("purge_evidence", stdout=io.StringIO())
    assert Snapshot.objects.filter(attempt=item.attempt).count() == 0
    assert not any(_exists(s.storage_key) for s in item.snapshots)


def test_results_report_csv_and_xlsx(tmp_path: Path) -> None:
    exam = factories.session()
    item = factories.attempt(exam_session=exam, snapshots=0)
    Incident.objects.create(
        attempt=item.attempt,
        kind="out_of_frame",
        status=Incident.Status.CONFIRMED,
        first_seen_at=exam.starts_at,
        last_seen_at=exam.starts_at,
    )
    ReviewVerdict.objects.create(
        attempt=item.attempt, verdict="suspicious", notes="多次看向左侧", at=exam.ends_at
    )
    labels = [label for _key, label in selectors.RESULT_COLUMNS]
    out = io.BytesIO()
    assert results_report_write(session_id=exam.pk, fmt="csv", out=out, actor=Actor.command("test")) == 1
    raw = out.getvalue()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == labels
    row = dict(zip(labels, rows[1], strict=True))
    candidate = item.attempt.candidate
    assert row["准考证号"] == candidate.ticket_number and row["姓名"] == candidate.name
    assert row["身份证号(脱敏)"] == candidate.id_number_masked and item.id_number not in raw.decode(
        "utf-8-sig"
    )
    assert (row["科目"], row["级别"], row["考试类型"]) == ("碳资产管理应用", "初级", "正式考试")
    assert (row["状态"], row["状态原因"]) == ("force_submitted", "screen_leaves_exceeded")
    assert row["强制交卷/取消资格原因"] == "screen_leaves_exceeded"
    assert (row["离屏次数"], row["警告总数"], row["分类警告"]) == ("3", "3", "headphones=1; two_people=2")
    assert (row["已确认异常"], row["待处理异常"]) == ("1", "0")
    assert (row["复核结论"], row["复核备注"]) == ("可疑", "多次看向左侧")

    xlsx = tmp_path / "r.xlsx"
    call_command(
        "results_report",
        "--session",
        str(exam.pk),
        "--format",
        "xlsx",
        "--out",
        str(xlsx),
        stdout=io.StringIO(),
    )
    sheet = load_workbook(xlsx).active
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert values[0] == labels
    assert values[1][0] == candidate.ticket_number and values[1][labels.index("离屏次数")] == 3
    assert (
        AccountAuditEntry.objects.filter(
            action="evidence.results_report", target=f"session:{exam.pk}"
        ).count()
        == 2
    )


def test_results_report_refuses_unknown_session_and_format() -> None:
    with pytest.raises(errors.ReportFormatInvalid):
        results_report_write(session_id=1, fmt="pdf", out=io.BytesIO(), actor=Actor.command("test"))
    with pytest.raises(CommandError, match="session_not_found"):
        call_command("results_report", "--session", "999999", "--out", os.devnull)
    assert AccountAuditEntry.objects.filter(action="evidence.results_report").count() == 0


def test_consent_is_recorded_once_per_notice_version() -> None:
    item = factories.attempt(exam_session=factories.session(), snapshots=0, status="registered")
    first = consent_record(attempt_id=item.attempt.pk, notice_version="2026.1")
    again = consent_record(attempt_id=item.attempt.pk, notice_version="2026.1")
    assert first.pk == again.pk
    item.attempt.refresh_from_db()
    consented_at = item.attempt.monitoring_consent_at
    assert consented_at is not None and consented_at == first.accepted_at
    # The exams area recorded one hash-chained consent event, not one per call.
    assert AttemptEvent.objects.filter(attempt=item.attempt, kind="consent").count() == 1
    consent_record(attempt_id=item.attempt.pk, notice_version="2026.2", actor="phone")
    assert list(MonitoringConsent.objects.order_by("pk").values_list("notice_version", flat=True)) == [
        "2026.1",
        "2026.2",
    ]
    item.attempt.refresh_from_db()
    assert item.attempt.monitoring_consent_at == consented_at
    with pytest.raises(errors.NoticeVersionInvalid):
        consent_record(attempt_id=item.attempt.pk, notice_version="<script>")
    assert MonitoringConsent.objects.count() == 2


def test_consent_on_a_finished_attempt_is_refused_and_writes_nothing() -> None:
    item = factories.attempt(exam_session=factories.session(), snapshots=0, status="submitted")
    with pytest.raises(ApplicationError) as refused:
        consent_record(attempt_id=item.attempt.pk, notice_version="2026.1")
    assert refused.value.code in ("attempt_closed", "illegal_action")
    assert MonitoringConsent.objects.count() == 0
    assert Attempt.objects.get(pk=item.attempt.pk).monitoring_consent_at is None


def test_candidate_data_export_contains_their_data_and_is_audited(tmp_path: Path) -> None:
    item = factories.attempt(exam_session=factories.session(), snapshots=2)
    ticket = item.attempt.candidate.ticket_number
    target = tmp_path / "me.json"
    call_command("candidate_data", "--ticket", ticket, "--export", str(target), stdout=io.StringIO())
    data = json.loads(target.read_text(encoding="utf-8"))
    assert data["candidate"]["id_number"] == item.id_number  # clear, for the data subject only
    assert data["candidate"]["ticket_number"] == ticket
    assert [s["sha256"] for s in data["attempts"][0]["snapshots"]] == [s.sha256 for s in item.snapshots]
    assert len(data["attempts"][0]["events"]) == 3
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    entry = AccountAuditEntry.objects.get(action="evidence.candidate_data_export")
    assert entry.target == f"candidate:{item.attempt.candidate_id}" and item.id_number not in json.dumps(
        entry.details
    )


@pytest.mark.integration
def test_candidate_data_delete_erases_personal_data_keeps_outcome() -> None:
    exam = factories.session()
    item = factories.attempt(exam_session=exam, snapshots=2)
    other = factories.attempt(
        exam_session=exam, images=[factories.jpeg_bytes(item.attempt.pk * 1000)]
    )  # shares a file
    candidate = item.attempt.candidate
    photo = _with_photo(candidate)
    identity = WechatIdentity.objects.create(openid="o-test", candidate=candidate)
    AuthToken.objects.create(
        key_hash="h" * 64, kind="miniprogram", wechat_identity=identity, expires_at=exam.ends_at
    )

    counts = candidate_data_delete(ticket_number=candidate.ticket_number, actor=Actor.command("test"))
    candidate.refresh_from_db()
    assert candidate.name == "已删除考生" and candidate.ticket_number == f"D{candidate.pk:010d}"
    assert candidate.id_number_encrypted == "" and candidate.id_number_masked == "" and not candidate.photo
    assert not _exists_default(photo)
    assert WechatIdentity.objects.count() == 0 and AuthToken.objects.count() == 0
    assert Snapshot.objects.filter(attempt=item.attempt).count() == 0
    assert not _exists(item.snapshots[1].storage_key)
    assert _exists(item.snapshots[0].storage_key)  # still referenced by the other candidate's row
    assert Snapshot.objects.filter(attempt=other.attempt).count() == 1
    attempt = Attempt.objects.get(pk=item.attempt.pk)
    assert attempt.status == "force_submitted" and AttemptEvent.objects.filter(attempt=attempt).count() == 3
    assert (counts.snapshots, counts.files_deleted, counts.files_kept_shared, counts.photos_deleted) == (
        2,
        1,
        1,
        1,
    )
    assert AccountAuditEntry.objects.filter(action="evidence.candidate_data_delete").count() == 1


def test_candidate_data_delete_refused_under_legal_hold_changes_nothing() -> None:
    item = factories.attempt(exam_session=factories.session(), snapshots=2)
    Attempt.objects.filter(pk=item.attempt.pk).update(legal_hold=True)
    candidate = item.attempt.candidate
    before = Candidate.objects.filter(pk=candidate.pk).values().get()
    with pytest.raises(CommandError, match="legal_hold"):
        call_command("candidate_data", "--ticket", candidate.ticket_number, "--delete")
    assert Candidate.objects.filter(pk=candidate.pk).values().get() == before
    assert Snapshot.objects.filter(attempt=item.attempt).count() == 2
    assert all(_exists(s.storage_key) for s in item.snapshots)
    refused = AccountAuditEntry.objects.get(action="evidence.candidate_data_refused")
    assert refused.details == {"held_attempt_ids": [item.attempt.pk]}
    assert AccountAuditEntry.objects.filter(action="evidence.candidate_data_delete").count() == 0


def test_unknown_candidate_is_a_clear_error() -> None:
    with pytest.raises(errors.CandidateNotFound):
        candidate_data_export(ticket_number="13800000000", actor=Actor.command("test"))
