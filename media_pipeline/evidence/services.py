"""Writes of the evidence area: export jobs and links, results reports, retention purge, consent,
data-subject requests, and the audit entry every one of them leaves. Keyword-only, typed."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import IO, Any

from django.conf import settings
from django.core import signing as django_signing
from django.core.files import File
from django.core.files.storage import FileSystemStorage
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts import id_numbers
from accounts.models import AccountAuditEntry, AuthToken, Candidate, User, WechatIdentity
from accounts.services import audit_record
from config.errors import NotFoundError
from exams import clock
from exams.models import Attempt
from media_pipeline.evidence import errors, export, selectors, storage_io
from media_pipeline.evidence.models import AuditAction, ExportJob, MonitoringConsent, PurgeRecord
from media_pipeline.models import AudioBatch, FrameAnalysis, ReferenceFrame, Snapshot

logger = logging.getLogger(__name__)

DOWNLOAD_SALT = "media_pipeline.evidence.export-download"
_NOTICE_VERSION = re.compile(r"^[A-Za-z0-9._-]{1,32}$")


@dataclass(frozen=True)
class Actor:
    """Who does something, for the audit log: a staff user, a command or the scheduler."""

    label: str
    user: User | None = None

    @classmethod
    def of_user(cls, user: Any) -> Actor:
        return cls(label=f"user:{user.pk}:{user.get_username()}", user=user)

    @classmethod
    def command(cls, name: str) -> Actor:
        return cls(label=f"command:{name}")

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(label=f"system:{name}")


def evidence_access_record(
    *, actor: Actor, action: str, target: str, details: dict[str, Any] | None = None
) -> AccountAuditEntry:
    """The audit entry (who, what, when) in the shared trail. Never an ID number or a URL."""
    return audit_record(
        actor=actor.label, actor_user=actor.user, action=action, target=target, details=details
    )


# --- Export jobs -----------------------------------------------------------------------------------


def export_job_create(
    *, actor: Actor, session_id: int | None = None, attempt_id: int | None = None, enqueue: bool = True
) -> ExportJob:
    """Queue a bundle for a session or one attempt (exactly one). ``enqueue=False``: the caller
    runs ``export_job_build`` itself (the management command)."""
    if (session_id is None) == (attempt_id is None):
        raise errors.ExportScopeInvalid()
    with transaction.atomic():
        if attempt_id is not None:
            attempt = selectors.attempt_get(attempt_id=attempt_id)
            job = ExportJob.objects.create(
                requested_by=actor.user,
                requested_by_label=actor.label[:150],
                scope=ExportJob.Scope.ATTEMPT,
                session_id=attempt.session_id,
                attempt=attempt,
            )
        else:
            assert session_id is not None
            session = selectors.session_get(session_id=session_id)
            job = ExportJob.objects.create(
                requested_by=actor.user,
                requested_by_label=actor.label[:150],
                scope=ExportJob.Scope.SESSION,
                session=session,
            )
        evidence_access_record(
            actor=actor,
            action=AuditAction.EXPORT_REQUESTED,
            target=f"export:{job.pk}",
            details={"scope": job.scope, "session_id": job.session_id, "attempt_id": job.attempt_id},
        )
        if enqueue:
            from config.taskqueue import enqueue_on_commit
            from media_pipeline.evidence.tasks import export_build

            enqueue_on_commit(export_build, job.pk)
    return job


def _export_key(job: ExportJob) -> str:
    target = f"attempt-{job.attempt_id}" if job.attempt_id else f"session-{job.session_id}"
    return f"exports/{job.created_at:%Y/%m}/evidence-{target}-job{job.pk}.zip"


def _file_digest(handle: IO[bytes]) -> tuple[str, int]:
    handle.seek(0)
    digest = hashlib.sha256()
    size = 0
    while chunk := handle.read(1024 * 1024):
        digest.update(chunk)
        size += len(chunk)
    handle.seek(0)
    return digest.hexdigest(), size


def export_job_build(*, job_id: int) -> ExportJob:
    """Build, store and record the bundle. Safe to run twice: a finished job returns as it is."""
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().get(pk=job_id)
        if job.status in (ExportJob.Status.DONE, ExportJob.Status.PURGED):
            return job
        job.status, job.progress, job.error = ExportJob.Status.RUNNING, 0, ""
        job.started_at = timezone.now()
        job.save(update_fields=["status", "progress", "error", "started_at"])

    def progress(done: int, total: int) -> None:
        # 99 at most: 100 means stored and recorded.
        ExportJob.objects.filter(pk=job.pk).update(progress=min(99, done * 100 // total))

    storage = storage_io.evidence_storage()
    key = _export_key(job)
    try:
        # A temporary file, not memory: the ZIP is written as a stream and uploaded as a stream.
        with tempfile.TemporaryFile(prefix="evidence-export-") as tmp:
            _manifest, stats = export.bundle_write(
                fileobj=tmp,
                session_id=job.session_id,
                attempt_id=job.attempt_id,
                metadata={"export_job_id": job.pk, "requested_by": job.requested_by_label},
                progress=progress,
            )
            sha256, size = _file_digest(tmp)
            if storage.exists(key):  # a previous run died after uploading: replace, do not fork
                storage.delete(key)
            stored = storage.save(key, File(tmp, name=PurePosixPath(key).name))
    except Exception as exc:
        logger.exception("export job %s failed", job.pk)
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        raise
    counts = {k: v for k, v in vars(stats).items() if k != "problems"}
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.DONE,
        progress=100,
        file_key=stored,
        size_bytes=size,
        sha256=sha256,
        counts=counts,
        finished_at=timezone.now(),
    )
    job.refresh_from_db()
    return job


@dataclass(frozen=True)
class DownloadLink:
    url: str
    expires_at: datetime


def _link_ttl() -> int:
    return int(getattr(settings, "EXPORT_LINK_TTL_SECONDS", 300))


def export_link_create(*, job_id: int, actor: Actor) -> DownloadLink:
    """A short-lived link: a presigned URL on S3, a signed URL of our own view on local files."""
    job = ExportJob.objects.filter(pk=job_id).first()
    if job is None:
        raise errors.ExportNotReady(code="export_not_found", http_status=404)
    if job.status != ExportJob.Status.DONE or not job.file_key:
        raise errors.ExportNotReady(extra={"status": job.status, "progress": job.progress})
    ttl = _link_ttl()
    storage = storage_io.evidence_storage()
    filename = PurePosixPath(job.file_key).name
    if isinstance(storage, FileSystemStorage):
        token = django_signing.dumps({"job": job.pk, "actor": actor.label}, salt=DOWNLOAD_SALT)
        path = reverse("api:evidence-export-download", kwargs={"job_id": job.pk})
        url = f"{str(settings.PUBLIC_BASE_URL).rstrip('/')}{path}?token={token}"
    else:
        s3: Any = storage
        url = s3.url(
            job.file_key,
            expire=ttl,
            parameters={"ResponseContentDisposition": f'attachment; filename="{filename}"'},
        )
    evidence_access_record(
        actor=actor,
        action=AuditAction.EXPORT_LINK,
        target=f"export:{job.pk}",
        details={"expires_in_s": ttl, "sha256": job.sha256},
    )
    return DownloadLink(url=url, expires_at=timezone.now() + timedelta(seconds=ttl))


def export_download_open(*, token: str, client_ip: str | None = None) -> tuple[ExportJob, Any, str]:
    """For the signed local download view: checks the token, audits, returns an open stream."""
    try:
        payload = django_signing.loads(token, salt=DOWNLOAD_SALT, max_age=_link_ttl())
        job_id = int(payload["job"])
        actor_label = str(payload["actor"])
    except (django_signing.BadSignature, KeyError, TypeError, ValueError):
        raise errors.DownloadLinkInvalid() from None
    job = ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.DONE).first()
    if job is None or not job.file_key:
        raise errors.DownloadLinkInvalid()
    try:
        stream = storage_io.open_stream(job.file_key)
    except FileNotFoundError:
        raise errors.DownloadLinkInvalid() from None
    evidence_access_record(
        actor=Actor(label=actor_label),
        action=AuditAction.EXPORT_DOWNLOADED,
        target=f"export:{job.pk}",
        details={"ip": client_ip or ""},
    )
    return job, stream, PurePosixPath(job.file_key).name


def export_copy_to(*, job_id: int, out: IO[bytes], actor: Actor) -> int:
    """Copy a finished bundle from storage to a local file (the command's ``--out``); audited."""
    job = ExportJob.objects.get(pk=job_id)
    if job.status != ExportJob.Status.DONE:
        raise errors.ExportNotReady(extra={"status": job.status})
    copied = 0
    stream = storage_io.open_stream(job.file_key)
    try:
        while chunk := stream.read(1024 * 1024):
            out.write(chunk)
            copied += len(chunk)
    finally:
        stream.close()
    evidence_access_record(
        actor=actor, action=AuditAction.EXPORT_WRITTEN, target=f"export:{job.pk}", details={"bytes": copied}
    )
    return copied


# --- Results report ----------------------------------------------------------------------------


def results_report_write(*, session_id: int, fmt: str, out: IO[bytes], actor: Actor) -> int:
    """Per-candidate results of a session as CSV (UTF-8 with BOM) or XLSX; returns the row count."""
    if fmt not in ("csv", "xlsx"):
        raise errors.ReportFormatInvalid()
    rows = selectors.results_rows(session_id=session_id)
    labels = [label for _key, label in selectors.RESULT_COLUMNS]
    if fmt == "csv":
        from media_pipeline.evidence.bundle import csv_cell

        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(labels)
        for row in rows:
            writer.writerow([csv_cell(v) for v in row.values()])
        out.write("\ufeff".encode() + text.getvalue().encode())
    else:
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("成绩")
        sheet.append(labels)
        for row in rows:
            sheet.append([_xlsx_cell(v) for v in row.values()])
        workbook.save(out)
    evidence_access_record(
        actor=actor,
        action=AuditAction.RESULTS_REPORT,
        target=f"session:{session_id}",
        details={"format": fmt, "rows": len(rows)},
    )
    return len(rows)


def _xlsx_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        # Excel has no time zones: the organiser reads local (Beijing) time.
        return timezone.localtime(value).replace(tzinfo=None)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


# --- Evidence deletion shared by purge and data-subject deletion --------------------------------


@dataclass
class DeletionCounts:
    attempts: int = 0
    snapshots: int = 0
    analyses: int = 0
    reference_frames: int = 0
    audio_batches: int = 0
    files_deleted: int = 0
    files_kept_shared: int = 0
    photos_deleted: int = 0
    exports_deleted: int = 0
    candidates_anonymised: int = 0

    def add(self, other: DeletionCounts) -> None:
        for key, value in vars(other).items():
            setattr(self, key, getattr(self, key) + value)


def _attempts_evidence_delete(*, attempt_ids: list[int]) -> tuple[DeletionCounts, set[str]]:
    """Deletes snapshot, analysis, reference-frame and audio rows; returns the storage keys that
    lost a reference. Call inside a transaction; delete files only after it commits."""
    counts = DeletionCounts(attempts=len(attempt_ids))
    snapshots = Snapshot.objects.filter(attempt_id__in=attempt_ids)
    keys = set(snapshots.values_list("storage_key", flat=True))
    counts.analyses = FrameAnalysis.objects.filter(snapshot__in=snapshots).count()
    counts.reference_frames = ReferenceFrame.objects.filter(
        Q(attempt_id__in=attempt_ids) | Q(snapshot__in=snapshots)
    ).count()
    ReferenceFrame.objects.filter(Q(attempt_id__in=attempt_ids) | Q(snapshot__in=snapshots)).delete()
    counts.snapshots = snapshots.count()
    snapshots.delete()  # FrameAnalysis rows cascade
    counts.audio_batches, _ = AudioBatch.objects.filter(attempt_id__in=attempt_ids).delete()
    return counts, keys


def _orphaned_files_delete(*, keys: set[str], counts: DeletionCounts) -> None:
    """Content-addressed storage: a file goes only when no remaining snapshot row points at it."""
    storage = storage_io.evidence_storage()
    for key in sorted(keys):
        if Snapshot.objects.filter(storage_key=key).exists():
            counts.files_kept_shared += 1
            continue
        try:
            storage.delete(key)
        except OSError:
            logger.warning("could not delete evidence file %s", key)
            continue
        spooled = storage_io.spool_path(key)  # a copy still waiting for upload, if any
        if spooled is not None:
            spooled.unlink(missing_ok=True)
        counts.files_deleted += 1


def _exports_covering_delete(*, attempt_ids: list[int], counts: DeletionCounts) -> None:
    """Bundles contain copies of the snapshots: they go with the evidence they copy."""
    session_ids = set(Attempt.objects.filter(pk__in=attempt_ids).values_list("session_id", flat=True))
    jobs = ExportJob.objects.filter(
        Q(attempt_id__in=attempt_ids) | Q(scope=ExportJob.Scope.SESSION, session_id__in=session_ids)
    ).exclude(status=ExportJob.Status.PURGED)
    storage = storage_io.evidence_storage()
    for job in jobs:
        if job.file_key:
            try:
                storage.delete(job.file_key)
            except OSError:
                logger.warning("could not delete export %s", job.pk)
        job.status, job.file_key = ExportJob.Status.PURGED, ""
        job.save(update_fields=["status", "file_key"])
        counts.exports_deleted += 1


def _candidate_sensitive_strip(*, candidate: Candidate, counts: DeletionCounts) -> None:
    """The registration photo and the encrypted ID number go; the masked form and the lookup hash
    stay (the organiser's results and a later login still need them)."""
    if candidate.photo:
        candidate.photo.delete(save=False)
        counts.photos_deleted += 1
    candidate.id_number_encrypted = ""
    candidate.save(update_fields=["photo", "id_number_encrypted", "updated_at"])


# --- Retention purge -----------------------------------------------------------------------------


def evidence_purge(*, actor: Actor, dry_run: bool = False, now: datetime | None = None) -> PurgeRecord:
    """Delete evidence and sensitive personal data past each session's retention_days, skipping
    attempts under legal hold or disputed. One audit record per run (dry runs too)."""
    now = now or clock.now()
    plan = selectors.purge_plan(now=now)
    record = PurgeRecord.objects.create(
        actor=actor.label[:150],
        actor_user=actor.user,
        dry_run=dry_run,
        started_at=timezone.now(),
        attempt_ids=[a.attempt_id for a in plan.attempts],
        held_attempt_ids=plan.held_attempt_ids,
    )
    total = DeletionCounts()
    if dry_run:
        attempt_ids = [a.attempt_id for a in plan.attempts]
        total.attempts = len(attempt_ids)
        total.snapshots = sum(a.snapshots for a in plan.attempts)
        total.audio_batches = sum(a.audio_batches for a in plan.attempts)
        keys = set(Snapshot.objects.filter(attempt_id__in=attempt_ids).values_list("storage_key", flat=True))
        shared = set(
            Snapshot.objects.filter(storage_key__in=keys)
            .exclude(attempt_id__in=attempt_ids)
            .values_list("storage_key", flat=True)
        )
        total.files_deleted, total.files_kept_shared = len(keys - shared), len(shared)
        total.photos_deleted = Candidate.objects.filter(pk__in=plan.candidate_ids).exclude(photo="").count()
    else:
        for item in plan.attempts:
            # One transaction per attempt: a purge stopped half-way leaves every attempt either
            # whole or purged, and the next run carries on.
            with transaction.atomic():
                counts, keys = _attempts_evidence_delete(attempt_ids=[item.attempt_id])
            _orphaned_files_delete(keys=keys, counts=counts)
            total.add(counts)
        _exports_covering_delete(attempt_ids=[a.attempt_id for a in plan.attempts], counts=total)
        for candidate in Candidate.objects.filter(pk__in=plan.candidate_ids):
            with transaction.atomic():
                _candidate_sensitive_strip(candidate=candidate, counts=total)
    record.counts = {**vars(total), "candidates": len(plan.candidate_ids)}
    record.finished_at = timezone.now()
    record.save(update_fields=["counts", "finished_at"])
    evidence_access_record(
        actor=actor,
        action=AuditAction.PURGE,
        target=f"purge:{record.pk}",
        details={
            "dry_run": dry_run,
            "attempts": len(record.attempt_ids),
            "held": len(record.held_attempt_ids),
        },
    )
    return record


# --- Monitoring notice consent ---------------------------------------------------------------------


def consent_record(*, attempt_id: int, notice_version: str, actor: str = "candidate") -> MonitoringConsent:
    """The candidate accepted a version of the monitoring notice (before pairing).

    Attempt.monitoring_consent_at and its hash-chained event are the exams area's: the ``consent``
    action records them (a no-op on repeats, refused on a closed attempt). This adds which notice
    version was accepted, once per version. ``actor``: "candidate" (desktop) or "phone"."""
    if not isinstance(notice_version, str) or not _NOTICE_VERSION.match(notice_version):
        raise errors.NoticeVersionInvalid()
    from exams.services import attempt_apply_action

    before = Attempt.objects.filter(pk=attempt_id).values_list("monitoring_consent_at", flat=True).first()
    attempt = attempt_apply_action(attempt_id=attempt_id, action="consent", actor=actor)
    # The first acceptance shares the attempt's consent time; a later notice version its own.
    first_now = before is None and attempt.monitoring_consent_at is not None
    consent, _created = MonitoringConsent.objects.get_or_create(
        attempt_id=attempt.pk,
        notice_version=notice_version,
        defaults={"accepted_at": attempt.monitoring_consent_at if first_now else clock.now()},
    )
    return consent


# --- Data-subject requests -------------------------------------------------------------------------


def _candidate_get(ticket_number: str) -> Candidate:
    candidate = Candidate.objects.filter(ticket_number=ticket_number.strip()).first()
    if candidate is None:
        raise errors.CandidateNotFound()
    return candidate


@dataclass
class CandidateDataExport:
    candidate_id: int
    data: dict[str, Any] = field(default_factory=dict)


def candidate_data_export(*, ticket_number: str, actor: Actor) -> CandidateDataExport:
    """Everything we hold about one candidate, for the candidate. The ID number is decrypted
    here only (this export goes to the data subject); audited without the number."""
    candidate = _candidate_get(ticket_number)
    id_number = id_numbers.decrypt(candidate.id_number_encrypted) if candidate.id_number_encrypted else None
    identity = WechatIdentity.objects.filter(candidate=candidate).first()
    attempts = []
    for attempt in (
        Attempt.objects.filter(candidate=candidate)
        .select_related("session", "session__subject")
        .order_by("pk")
    ):
        attempts.append(
            {
                "attempt_id": attempt.pk,
                "subject": attempt.session.subject.name,
                "level": attempt.session.level,
                "session_kind": attempt.session.kind,
                "session_starts_at": attempt.session.starts_at,
                "status": attempt.status,
                "status_reason": attempt.status_reason,
                "score_void": attempt.score_void,
                "screen_leaves": attempt.screen_leaves,
                "warnings": attempt.warnings,
                "monitoring_consent_at": attempt.monitoring_consent_at,
                "consents": list(
                    MonitoringConsent.objects.filter(attempt=attempt).values("notice_version", "accepted_at")
                ),
                "checked_in_at": attempt.checked_in_at,
                "started_at": attempt.started_at,
                "finished_at": attempt.finished_at,
                "events": list(
                    attempt.events.order_by("seq").values(
                        "seq", "kind", "actor", "cause", "data", "created_at"
                    )
                ),
                "incidents": list(
                    attempt.incidents.order_by("pk").values(
                        "kind", "severity", "status", "first_seen_at", "last_seen_at", "note"
                    )
                ),
                "snapshots": list(
                    Snapshot.objects.filter(attempt=attempt)
                    .order_by("received_at")
                    .values("seq", "captured_at", "received_at", "sha256", "width", "height", "size_bytes")
                ),
                "audio_batches": AudioBatch.objects.filter(attempt=attempt).count(),
            }
        )
    data = {
        "format": "candidate-personal-data",
        "generated_at": timezone.now(),
        "candidate": {
            "ticket_number": candidate.ticket_number,
            "name": candidate.name,
            "id_number": id_number,
            "id_number_masked": candidate.id_number_masked,
            "has_registration_photo": bool(candidate.photo),
            "created_at": candidate.created_at,
        },
        "wechat": (
            {"openid": identity.openid, "unionid": identity.unionid, "bound_at": identity.bound_at}
            if identity
            else None
        ),
        "attempts": attempts,
    }
    evidence_access_record(
        actor=actor,
        action=AuditAction.CANDIDATE_DATA_EXPORT,
        target=f"candidate:{candidate.pk}",
        details={"attempts": len(attempts)},
    )
    return CandidateDataExport(candidate_id=candidate.pk, data=data)


def candidate_data_delete(*, ticket_number: str, actor: Actor) -> DeletionCounts:
    """Erase a candidate's personal data on request: evidence files and rows, photo, encrypted ID,
    WeChat binding and tokens; the candidate row is anonymised so attempt outcomes and their hash
    chains stay intact. Refused (and audited) while any attempt is under legal hold or disputed."""
    candidate = _candidate_get(ticket_number)
    attempts = list(Attempt.objects.filter(candidate=candidate))
    held = [a.pk for a in attempts if selectors.attempt_is_held(attempt=a)]
    if held:
        evidence_access_record(
            actor=actor,
            action=AuditAction.CANDIDATE_DATA_REFUSED,
            target=f"candidate:{candidate.pk}",
            details={"held_attempt_ids": held},
        )
        raise errors.LegalHold(extra={"attempt_ids": held})
    attempt_ids = [a.pk for a in attempts]
    with transaction.atomic():
        counts, keys = _attempts_evidence_delete(attempt_ids=attempt_ids)
        _candidate_sensitive_strip(candidate=candidate, counts=counts)
        AuthToken.objects.filter(Q(candidate=candidate) | Q(wechat_identity__candidate=candidate)).delete()
        WechatIdentity.objects.filter(candidate=candidate).delete()
        candidate.ticket_number = f"D{candidate.pk:010d}"  # never a valid ticket (those start with 1)
        candidate.name = "已删除考生"
        candidate.id_number_hash = f"deleted:{candidate.pk}"
        candidate.id_number_masked = ""
        candidate.save(
            update_fields=["ticket_number", "name", "id_number_hash", "id_number_masked", "updated_at"]
        )
        counts.candidates_anonymised = 1
        evidence_access_record(
            actor=actor,
            action=AuditAction.CANDIDATE_DATA_DELETE,
            target=f"candidate:{candidate.pk}",
            details={"attempt_ids": attempt_ids},
        )
    _orphaned_files_delete(keys=keys, counts=counts)
    _exports_covering_delete(attempt_ids=attempt_ids, counts=counts)
    return counts


def legal_hold_set(*, attempt_id: int, hold: bool, actor: Actor) -> Attempt:
    """Flag or release an attempt's legal hold (the purge and deletion requests skip held ones)."""
    with transaction.atomic():
        attempt = Attempt.objects.select_for_update().filter(pk=attempt_id).first()
        if attempt is None:
            raise NotFoundError("考试记录不存在 (attempt not found).", code="attempt_not_found")
        if attempt.legal_hold != hold:
            Attempt.objects.filter(pk=attempt.pk).update(legal_hold=hold)
            attempt.legal_hold = hold
            evidence_access_record(
                actor=actor,
                action=AuditAction.LEGAL_HOLD,
                target=f"attempt:{attempt.pk}",
                details={"hold": hold},
            )
    return attempt
