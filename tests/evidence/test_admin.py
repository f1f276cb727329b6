"""The organiser's admin pages: export, results report, legal hold, data-subject requests, purge."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client

from accounts.models import AccountAuditEntry, Candidate, User
from exams.models import Attempt
from media_pipeline.evidence.models import ExportJob, PurgeRecord
from media_pipeline.models import Snapshot
from tests.evidence import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    user = User.objects.create_superuser("chief", "chief@example.com", "pw-Secret-123")
    client = Client()
    client.force_login(user)
    return client


def test_pages_render(admin_client: Client) -> None:
    item = factories.attempt(exam_session=factories.session(), snapshots=1)
    for url in (
        "/admin/evidence/exportjob/",
        "/admin/evidence/sessionevidence/",
        "/admin/evidence/attemptevidence/",
        "/admin/evidence/candidateprivacy/",
        f"/admin/evidence/candidateprivacy/{item.attempt.candidate_id}/change/",
        "/admin/evidence/purgerecord/",
        "/admin/evidence/monitoringconsent/",
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
    detail = admin_client.get(
        f"/admin/evidence/candidateprivacy/{item.attempt.candidate_id}/change/"
    ).content.decode()
    assert item.id_number not in detail and item.attempt.candidate.id_number_masked in detail


def test_session_actions_queue_export_and_return_results(
    admin_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    exam = factories.session()
    factories.attempt(exam_session=exam, snapshots=1)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/evidence/sessionevidence/", {"action": "export_bundle", "_selected_action": [exam.pk]}
        )
    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert (job.status, job.scope, job.requested_by_label) == (
        "done",
        "session",
        f"user:{job.requested_by_id}:chief",
    )
    response = admin_client.post(
        "/admin/evidence/sessionevidence/", {"action": "results_csv", "_selected_action": [exam.pk]}
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "准考证号" and len(rows) == 2
    link = admin_client.post(
        "/admin/evidence/exportjob/", {"action": "download_link", "_selected_action": [job.pk]}, follow=True
    )
    assert "下载" in link.content.decode()
    assert (
        AccountAuditEntry.objects.filter(action="evidence.export_link", target=f"export:{job.pk}").count()
        == 1
    )


def test_legal_hold_then_delete_is_refused_then_allowed(admin_client: Client) -> None:
    item = factories.attempt(exam_session=factories.session(), snapshots=1)
    admin_client.post(
        "/admin/evidence/attemptevidence/", {"action": "hold", "_selected_action": [item.attempt.pk]}
    )
    assert Attempt.objects.get(pk=item.attempt.pk).legal_hold is True
    candidate_id = item.attempt.candidate_id
    confirm = admin_client.post(
        "/admin/evidence/candidateprivacy/", {"action": "delete_data", "_selected_action": [candidate_id]}
    )
    assert confirm.status_code == 200 and "确认删除" in confirm.content.decode()
    assert Snapshot.objects.filter(attempt=item.attempt).count() == 1  # the confirmation page deletes nothing
    admin_client.post(
        "/admin/evidence/candidateprivacy/",
        {"action": "delete_data", "_selected_action": [candidate_id], "confirm": "yes"},
    )
    assert Snapshot.objects.filter(attempt=item.attempt).count() == 1
    assert Candidate.objects.get(pk=candidate_id).name == item.attempt.candidate.name
    admin_client.post(
        "/admin/evidence/attemptevidence/", {"action": "release", "_selected_action": [item.attempt.pk]}
    )
    admin_client.post(
        "/admin/evidence/candidateprivacy/",
        {"action": "delete_data", "_selected_action": [candidate_id], "confirm": "yes"},
    )
    assert Snapshot.objects.filter(attempt=item.attempt).count() == 0
    assert Candidate.objects.get(pk=candidate_id).name == "已删除考生"
    assert list(
        AccountAuditEntry.objects.filter(target=f"attempt:{item.attempt.pk}")
        .order_by("at", "pk")
        .values_list("details", flat=True)
    ) == [{"hold": True}, {"hold": False}]


def test_purge_buttons(admin_client: Client) -> None:
    old = factories.session(ends_days_ago=400)
    item = factories.attempt(exam_session=old, snapshots=1)
    response = admin_client.post("/admin/evidence/purgerecord/run/", {"dry_run": "1"})
    assert response.status_code == 302
    assert PurgeRecord.objects.get().attempt_ids == [item.attempt.pk]
    assert Snapshot.objects.filter(attempt=item.attempt).count() == 1
    admin_client.post("/admin/evidence/purgerecord/run/", {"dry_run": "0"})
    assert Snapshot.objects.filter(attempt=item.attempt).count() == 0
    assert admin_client.get("/admin/evidence/purgerecord/run/").status_code == 405
