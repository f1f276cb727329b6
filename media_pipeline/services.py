"""Writes of the media pipeline: snapshot and audio ingest, analysis, reference frames."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import Field, Q
from django.utils import timezone

from config import sql
from config.errors import ApplicationError
from config.taskqueue import enqueue_on_commit

from . import audio, conf, errors, flags, imaging, storage
from .checks import Signature, analyse_frame
from .checks.image import UndecodableImage
from .models import AudioBatch, FrameAnalysis, ReferenceFrame, Snapshot
from .signals import frame_analysed

if TYPE_CHECKING:
    from monitor.models import PhoneDevice

logger = logging.getLogger(__name__)

MAX_AUDIO_LEVELS = 600
AUDIO_INTERVAL_RANGE_MS = (10, 10_000)


def _device_get(device_id: int) -> PhoneDevice:
    from monitor.models import PhoneDevice

    device = PhoneDevice.objects.select_related("attempt").filter(pk=device_id).first()
    if device is None:
        raise errors.DeviceNotFound()
    return device


def _device_with_stored_seq(device_id: int, seq: int) -> dict[str, Any]:
    """The device's attempt, whether it is revoked, and the snapshot already stored under ``seq``:
    one query on the path every frame takes. Plain SQL: the ORM spent ~0.5 ms of CPU compiling this
    annotated sub-query for every frame, the largest item of the frame path (docs/reliability.md,
    step 5); the statement text is fixed, so the driver caches its parsing."""
    from monitor.models import PhoneDevice

    conn = sql.db()
    q = conn.ops.quote_name
    device, snapshot = PhoneDevice._meta, Snapshot._meta
    # Names from the models' metadata; the values are parameters.
    stored = f"SELECT s.{q('id')} FROM {q(snapshot.db_table)} s WHERE s.{q('device_id')} = d.{q('id')} AND s.{q('seq')} = %s"  # noqa: E501, S608
    statement = f"SELECT d.{q('attempt_id')}, d.{q('revoked_at')}, ({stored}) FROM {q(device.db_table)} d WHERE d.{q('id')} = %s"  # noqa: E501, S608
    with conn.cursor() as cursor:
        cursor.execute(statement, [seq, device_id])
        row = cursor.fetchone()
    if row is None:
        raise errors.DeviceNotFound()
    return {"attempt_id": row[0], "revoked": row[1] is not None, "stored_id": row[2]}


def _device_resume_point_raise(*, device_id: int, seq: int) -> None:
    """PhoneDevice.last_acked_seq = max(itself, seq): never lowered (acks race across reconnects).
    A fixed statement: the ORM compiled this update for every frame (a tenth of the frame ingest)."""
    from monitor.models import PhoneDevice

    conn = sql.db()
    q = conn.ops.quote_name
    column = q("last_acked_seq")
    statement = (
        f"UPDATE {q(PhoneDevice._meta.db_table)} SET {column} = %s WHERE {q('id')} = %s AND {column} < %s"  # noqa: E501, S608 - names from the model
    )
    with conn.cursor() as cursor:
        cursor.execute(statement, [seq, device_id, seq])


def snapshot_ingest(
    *, device_id: int, seq: int, data: bytes, captured_at: datetime | None = None
) -> Snapshot:
    """Validate, normalise, store durably and record one frame; analysis is queued after commit.

    Idempotent on (device, seq): a repeat returns the stored row unchanged (the phone resends
    frames it has no ack for). Raises ImageRejected subclasses with stable codes; nothing is
    stored for a refused frame.
    """
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= 2_147_483_647:
        raise errors.ImageRejected("序号无效 (invalid sequence number).", code="invalid_seq")
    device = _device_with_stored_seq(device_id, seq)
    if device["stored_id"] is not None:
        return Snapshot.objects.get(pk=device["stored_id"])
    if device["revoked"]:
        raise errors.DeviceRevoked()
    lim = conf.limits()
    image = imaging.image_validate(
        data,
        max_bytes=lim.max_bytes,
        max_pixels=lim.max_pixels,
        max_side=lim.max_side,
        min_side=lim.min_side,
        quality=int(conf.get("SNAPSHOT_JPEG_QUALITY")),
    )
    sha = hashlib.sha256(image.data).hexdigest()
    key = storage.snapshot_key(sha)
    uploaded = storage.store(key=key, data=image.data, content_type=image.content_type)
    try:
        with transaction.atomic():
            snapshot = Snapshot.objects.create(
                attempt_id=device["attempt_id"],
                device_id=device_id,
                seq=seq,
                captured_at=captured_at,
                received_at=timezone.now(),
                sha256=sha,
                storage_key=key,
                uploaded=uploaded,
                content_type=image.content_type,
                width=image.width,
                height=image.height,
                size_bytes=len(image.data),
            )
            # The phone's resume point moves in the same transaction as the row: a reconnecting
            # socket's hello (resume_from) can never see the stored frame without it, or the reverse.
            _device_resume_point_raise(device_id=device_id, seq=seq)
            from .tasks import process_snapshot

            enqueue_on_commit(process_snapshot, snapshot.pk)  # analysis, then the upload if spooled
    except IntegrityError:
        # The same (device, seq) was recorded concurrently: that row is the answer.
        return Snapshot.objects.get(device_id=device_id, seq=seq)
    return snapshot


def snapshot_upload_spooled(*, snapshot_id: int) -> bool:
    """Put a spooled snapshot into evidence storage and mark it uploaded (idempotent).

    No spool file means an identical frame's upload took it (one key, one file) — or this worker
    cannot see the spool of the host that stored it. Only the first is checked for and trusted:
    the row is marked uploaded only when storage really holds the object, otherwise
    ``storage.SpoolNotVisible`` is raised and the task retries.
    """
    snapshot = Snapshot.objects.filter(pk=snapshot_id).first()
    if snapshot is None or snapshot.uploaded:
        return False
    key = snapshot.storage_key
    uploaded_now = storage.upload_spooled(key=key, content_type=snapshot.content_type)
    if not uploaded_now and not storage.evidence_storage().exists(key):
        raise storage.SpoolNotVisible(snapshot_id)
    Snapshot.objects.filter(pk=snapshot_id).update(uploaded=True)
    return True


def _previous_signatures(snapshot: Snapshot, count: int) -> list[Signature]:
    rows = (
        FrameAnalysis.objects.filter(snapshot__device_id=snapshot.device_id, snapshot__seq__lt=snapshot.seq)
        .order_by("-snapshot__seq")
        .values_list("report", flat=True)[:count]
    )
    return [Signature.from_json(r["signature"]) for r in rows if isinstance(r, dict) and "signature" in r]


def _reference_signature(attempt_id: int) -> Signature | None:
    ref = ReferenceFrame.objects.filter(attempt_id=attempt_id).first()
    if ref is None or "signature" not in ref.features:
        return None
    return Signature.from_json(ref.features["signature"])


def snapshot_analyse(*, snapshot_id: int) -> FrameAnalysis | None:
    """Analyse one stored snapshot exactly once (a repeat returns the stored analysis).

    The analysis (storage read, decode, detector: tens of milliseconds) runs outside any
    transaction; only its result is written, under a row lock that re-checks the snapshot is still
    pending (two runs of the task may compute; one writes, the other returns what it wrote). Holding
    the lock during the analysis serialised every other writer behind it: on SQLite, whose
    IMMEDIATE transactions take the database's single write lock, 30 frames/s of analysis kept the
    lock busy most of the time and phones' acks queued behind it for seconds.

    Storage errors propagate (the task retries them); an undecodable stored file marks the
    snapshot failed. Flags become incidents in the same transaction, so a crash in between leaves
    neither; ``frame_analysed`` is sent after commit.
    """
    snapshot = Snapshot.objects.filter(pk=snapshot_id).first()
    if snapshot is None:
        return None
    if snapshot.analysis_status != Snapshot.Analysis.PENDING:
        return FrameAnalysis.objects.filter(snapshot=snapshot).first()
    data = storage.read(snapshot.storage_key)
    delay = float(conf.get("MEDIA_ANALYSIS_FAULT_DELAY_S"))
    if delay:
        time.sleep(delay)
    report = None
    try:
        report = analyse_frame(
            data,
            thresholds=conf.thresholds(),
            detector=conf.detector(),
            previous=_previous_signatures(snapshot, int(conf.get("MEDIA_PREVIOUS_FRAMES"))),
            reference=_reference_signature(snapshot.attempt_id),
        )
    except UndecodableImage:
        report = None  # recorded as failed below
    with transaction.atomic():
        locked = Snapshot.objects.select_for_update().select_related("attempt").filter(pk=snapshot_id).first()
        if locked is None:
            return None
        snapshot = locked
        if snapshot.analysis_status != Snapshot.Analysis.PENDING:
            return FrameAnalysis.objects.filter(snapshot=snapshot).first()
        if report is None:
            snapshot.analysis_status = Snapshot.Analysis.FAILED
            snapshot.save(update_fields=["analysis_status"])
            logger.warning("snapshot %s could not be decoded for analysis", snapshot.pk)
            return None
        body = report.as_dict()
        body["reasons"] = list(report.failing)
        analysis = FrameAnalysis.objects.create(
            snapshot=snapshot,
            report=body,
            passed=report.passed,
            person_count=report.person_count,
            analyzer_version=report.analyzer_version,
            duration_ms=report.duration_ms,
        )
        snapshot.analysis_status = Snapshot.Analysis.DONE
        snapshot.save(update_fields=["analysis_status"])
        _reference_auto_approve(snapshot)
        _apply_flags(snapshot, body)
        attempt_id, device_id = snapshot.attempt_id, snapshot.device_id
        transaction.on_commit(
            lambda: frame_analysed.send(
                sender=Snapshot, snapshot_id=snapshot_id, attempt_id=attempt_id, device_id=device_id
            )
        )
    logger.info("analysed snapshot %s in %.1f ms", snapshot_id, report.duration_ms)
    return analysis


def _apply_flags(snapshot: Snapshot, report: dict[str, Any]) -> None:
    try:
        with transaction.atomic():  # a savepoint: a refused incident never loses the analysis
            flags.incidents_apply(
                attempt_id=snapshot.attempt_id,
                attempt_status=snapshot.attempt.status,
                flags=flags.frame_flags(report),
                source_kinds=flags.FRAME_SOURCE_KINDS,
                seen_at=snapshot.captured_at or snapshot.received_at,
                snapshot_id=snapshot.pk,
            )
    except Exception:  # noqa: BLE001 - logged with its traceback; the analysis itself is kept
        logger.exception("incidents for snapshot %s not recorded", snapshot.pk)


def _reference_auto_approve(snapshot: Snapshot) -> None:
    """During set-up: N consecutive frames of this device passing every check approve the latest."""
    if ReferenceFrame.objects.filter(attempt_id=snapshot.attempt_id).exists():
        return
    needed = int(conf.get("MEDIA_REFERENCE_AUTO_FRAMES"))
    recent = list(
        FrameAnalysis.objects.filter(snapshot__device_id=snapshot.device_id, snapshot__seq__lte=snapshot.seq)
        .order_by("-snapshot__seq")
        .values_list("passed", flat=True)[:needed]
    )
    if len(recent) == needed and all(recent):
        _reference_set(snapshot=snapshot, user=None)


def _reference_set(*, snapshot: Snapshot, user: object | None) -> ReferenceFrame:
    analysis = FrameAnalysis.objects.filter(snapshot=snapshot).first()
    features = {"signature": analysis.report["signature"]} if analysis is not None else {}
    if analysis is not None:
        features["detections"] = analysis.report.get("detections", [])
    ref, _created = ReferenceFrame.objects.update_or_create(
        attempt_id=snapshot.attempt_id,
        defaults={
            "snapshot": snapshot,
            "approved_by": user,
            "approved_automatically": user is None,
            "approved_at": timezone.now(),
            "features": features,
        },
    )
    return ref


def reference_frame_approve(*, snapshot_id: int, user: Any) -> ReferenceFrame:
    """A proctor approves this (analysed) frame as the attempt's reference (replaces an earlier one).

    Audited. A snapshot of an attempt the user cannot see answers like a missing one."""
    from accounts.services import audit_record

    from .selectors import snapshot_visible_get

    snapshot = snapshot_visible_get(snapshot_id=snapshot_id, user=user)
    if snapshot.analysis_status != Snapshot.Analysis.DONE:
        raise errors.SnapshotNotAnalysed(extra={"snapshot_id": snapshot_id})
    with transaction.atomic():
        previous = ReferenceFrame.objects.filter(attempt_id=snapshot.attempt_id).values_list(
            "snapshot_id", flat=True
        )
        replaced = previous.first()
        ref = _reference_set(snapshot=snapshot, user=user)
        audit_record(
            actor=_actor_label(user),
            actor_user=user,
            action="reference_frame_approve",
            target=f"snapshot:{snapshot.pk}",
            details={"attempt_id": snapshot.attempt_id, "replaced_snapshot_id": replaced},
        )
    return ref


def _actor_label(user: Any) -> str:
    return f"user:{user.pk}:{user.get_username()}" if getattr(user, "pk", None) else "system"


def snapshot_access_audit(*, snapshot: Snapshot, user: Any, variant: str, redirected: bool = False) -> bool:
    """Record that ``user`` viewed a snapshot. Full images: every view. Thumbnails refresh in the
    proctor grid every few seconds, so one entry per proctor and attempt per
    ``SNAPSHOT_THUMBNAIL_AUDIT_WINDOW_S`` says who watched whom without flooding the trail.
    Returns whether an entry was written."""
    from accounts.models import AccountAuditEntry
    from accounts.services import audit_record

    action = "snapshot_view" if variant == "image" else "snapshot_thumbnail_view"
    if variant != "image":
        since = timezone.now() - timedelta(seconds=int(conf.get("SNAPSHOT_THUMBNAIL_AUDIT_WINDOW_S")))
        if AccountAuditEntry.objects.filter(
            actor_user_id=user.pk,
            action=action,
            details__attempt_id=snapshot.attempt_id,
            at__gte=since,
        ).exists():
            return False
    audit_record(
        actor=_actor_label(user),
        actor_user=user,
        action=action,
        target=f"snapshot:{snapshot.pk}",
        details={"attempt_id": snapshot.attempt_id, "redirected": redirected},
    )
    return True


def _audio_validate(*, seq: Any, interval_ms: Any, levels: Any) -> None:
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= 2_147_483_647:
        raise errors.AudioRejected(extra={"field": "seq"})
    lo, hi = AUDIO_INTERVAL_RANGE_MS
    if isinstance(interval_ms, bool) or not isinstance(interval_ms, int) or not lo <= interval_ms <= hi:
        raise errors.AudioRejected(extra={"field": "interval_ms", "min": lo, "max": hi})
    if not isinstance(levels, list | tuple) or not 1 <= len(levels) <= MAX_AUDIO_LEVELS:
        raise errors.AudioRejected(extra={"field": "levels", "max_items": MAX_AUDIO_LEVELS})
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in levels):
        raise errors.AudioRejected(extra={"field": "levels", "problem": "not_numbers"})


def _audio_report(*, device_id: int, clamped: list[int], interval_ms: int) -> audio.AudioReport:
    """Analyse the levels. The latest frame's person count only matters when there is speech (voices
    while absent), so the query is made only then: most batches are silence."""
    t = conf.audio_thresholds()
    report = audio.analyse_levels(clamped, interval_ms=interval_ms, candidate_present=None, t=t)
    if not report.windows:
        return report
    latest = (
        FrameAnalysis.objects.filter(snapshot__device_id=device_id)
        .order_by("-snapshot__seq")
        .values_list("person_count", flat=True)
    ).first()
    return audio.analyse_levels(
        clamped, interval_ms=interval_ms, candidate_present=None if latest is None else latest > 0, t=t
    )


def _audio_incidents(
    *, batch: AudioBatch, attempt_status: str, raised: list[flags.Flag], started_at: datetime | None
) -> None:
    try:
        with transaction.atomic():
            flags.incidents_apply(
                attempt_id=batch.attempt_id,
                attempt_status=attempt_status,
                flags=raised,
                source_kinds=flags.AUDIO_SOURCE_KINDS,
                seen_at=started_at or batch.received_at,
                evidence={"messages": [f"audio:{batch.pk}"]} if raised else None,
            )
    except Exception:  # noqa: BLE001 - the levels are evidence and are kept regardless
        logger.exception("incidents for audio batch %s not recorded", batch.pk)


def audio_ingest(
    *, device_id: int, seq: int, interval_ms: int, levels: list[float], started_at: datetime | None = None
) -> AudioBatch:
    """Record one batch of sound levels (idempotent on (device, seq)) and flag voices.

    Levels are dBFS readings, clamped to [-127, 0] and stored as signed bytes (compact evidence;
    no raw audio is ever received)."""
    existing = AudioBatch.objects.filter(device_id=device_id, seq=seq).first()
    if existing is not None:
        return existing
    _audio_validate(seq=seq, interval_ms=interval_ms, levels=levels)
    device = _device_get(device_id)
    if device.revoked_at is not None:
        raise errors.DeviceRevoked()
    clamped = audio.clamp_levels(list(levels))
    report = _audio_report(device_id=device_id, clamped=clamped, interval_ms=interval_ms)
    try:
        with transaction.atomic():
            batch = AudioBatch.objects.create(
                attempt_id=device.attempt_id,
                device_id=device_id,
                seq=seq,
                started_at=started_at,
                received_at=timezone.now(),
                interval_ms=interval_ms,
                levels=audio.encode_levels(clamped),
            )
            _audio_incidents(
                batch=batch,
                attempt_status=device.attempt.status,
                raised=flags.audio_flags(report.as_dict()),
                started_at=started_at,
            )
    except IntegrityError:
        return AudioBatch.objects.get(device_id=device_id, seq=seq)
    return batch


@dataclass(frozen=True)
class AudioItem:
    """One audio batch as a phone sent it (the arguments of ``audio_ingest``)."""

    device_id: int
    seq: int
    interval_ms: int
    levels: list[float]
    started_at: datetime | None = None


def audio_ingest_many(*, items: list[AudioItem]) -> list[AudioBatch | ApplicationError]:
    """``audio_ingest`` for many batches (from many sockets) at once, in one transaction.

    Same rules per item: validated, idempotent on (device, seq) (a stored one is returned unchanged),
    refused for unknown or revoked devices, voices flagged. The answer has one entry per item, in
    order: the stored row, or the error for that item (the others are stored regardless). A silent
    batch costs no query of its own (a few queries per call instead of ~6 per batch: at a batch per
    phone per second this was most of a server's CPU); batches that raise a flag, or whose attempt has
    an open audio incident to extend or clear, get their incidents one by one in the same transaction.
    Resends are found by the insert itself (``_audio_insert_new``), not by a look-up before it.
    """
    results: list[AudioBatch | ApplicationError | None] = [None] * len(items)
    valid: list[int] = []
    for i, item in enumerate(items):
        try:
            _audio_validate(seq=item.seq, interval_ms=item.interval_ms, levels=item.levels)
        except ApplicationError as exc:
            results[i] = exc
            continue
        valid.append(i)
    devices = _audio_devices({items[i].device_id for i in valid})
    open_audio = {d.attempt_id for d in devices.values() if d.open_audio_incident}
    now = timezone.now()
    new: list[tuple[int, AudioBatch]] = []
    revoked: list[int] = []  # refused, unless it is a resend of a batch stored before
    flagged: dict[int, tuple[str, list[flags.Flag]]] = {}  # index → (attempt status, flags)
    taken: dict[tuple[int, int], int] = {}  # the same (device, seq) twice in one call: one row
    for i in valid:
        item = items[i]
        key = (item.device_id, item.seq)
        device = devices.get(item.device_id)
        if device is None:
            results[i] = errors.DeviceNotFound()
            continue
        if key in taken:
            continue  # answered below with the first one's row
        taken[key] = i
        if device.revoked:
            revoked.append(i)
            continue
        clamped = audio.clamp_levels(list(item.levels))
        report = _audio_report(device_id=item.device_id, clamped=clamped, interval_ms=item.interval_ms)
        raised = flags.audio_flags(report.as_dict())
        new.append(
            (
                i,
                AudioBatch(
                    attempt_id=device.attempt_id,
                    device_id=item.device_id,
                    seq=item.seq,
                    started_at=item.started_at,
                    received_at=now,
                    interval_ms=item.interval_ms,
                    levels=audio.encode_levels(clamped),
                ),
            )
        )
        if raised or device.attempt_id in open_audio:
            flagged[i] = (device.attempt_status, raised)
    try:
        with transaction.atomic():
            inserted = _audio_insert_new([batch for _, batch in new])
            resent = {(b.device_id, b.seq) for _, b in new} - inserted
            stored = _audio_stored(wanted=resent | {(items[i].device_id, items[i].seq) for i in revoked})
            for i in revoked:
                results[i] = stored.get((items[i].device_id, items[i].seq)) or errors.DeviceRevoked()
            for i, batch in new:
                key = (batch.device_id, batch.seq)
                if key in inserted:
                    results[i] = batch
                    if i in flagged:
                        status, raised = flagged[i]
                        _audio_incidents(
                            batch=batch, attempt_status=status, raised=raised, started_at=batch.started_at
                        )
                elif key in stored:  # a resend: the row stored before wins, unchanged
                    results[i] = stored[key]
                else:  # its conflicting row was deleted meanwhile: take the one-by-one path
                    raise IntegrityError(f"audio batch {key} neither inserted nor found")
    except IntegrityError:
        # A row vanished or a device was deleted meanwhile (a purge): one transaction per batch
        # (each idempotent), so the others are still stored.
        return [r if r is not None else _audio_ingest_one_safely(items[i]) for i, r in enumerate(results)]
    for i in valid:
        if results[i] is None:  # a repeat inside this call
            results[i] = results[taken[(items[i].device_id, items[i].seq)]]
    return [r for r in results if r is not None]


class _AudioDevice(NamedTuple):
    attempt_id: int
    revoked: bool
    attempt_status: str
    open_audio_incident: bool  # the attempt has one to extend or clear


def _audio_devices(device_ids: set[int]) -> dict[int, _AudioDevice]:
    """The devices that sent these batches, by id, with what their batches need. One fixed statement
    per group commit (the ORM compiled two queries for every flush: its largest fixed cost, paid ~100
    times a second on a busy server)."""
    from exams.models import Attempt, Incident
    from monitor.models import PhoneDevice

    if not device_ids:
        return {}
    conn = sql.db()
    q = conn.ops.quote_name
    kinds = sorted(flags.AUDIO_SOURCE_KINDS)
    # Names from the models' metadata, the kinds a constant set: the text never changes.
    kind_params = ", ".join(["%s"] * len(kinds))
    open_incident = (
        f"EXISTS (SELECT 1 FROM {q(Incident._meta.db_table)} i"  # noqa: S608
        f" WHERE i.{q('attempt_id')} = d.{q('attempt_id')} AND i.{q('kind')} IN ({kind_params})"
        f" AND i.{q('ended_at')} IS NULL)"
    )
    device, attempt = q(PhoneDevice._meta.db_table), q(Attempt._meta.db_table)
    statement = (
        f"SELECT d.{q('id')}, d.{q('attempt_id')}, d.{q('revoked_at')} IS NOT NULL, a.{q('status')},"  # noqa: S608
        f" {open_incident} FROM {device} d JOIN {attempt} a ON a.{q('id')} = d.{q('attempt_id')}"
        f" WHERE {sql.in_ids(conn, 'd.' + q('id'))}"
    )
    with conn.cursor() as cursor:
        cursor.execute(statement, [*kinds, sql.ids_param(conn, device_ids)])
        return {row[0]: _AudioDevice(row[1], bool(row[2]), row[3], bool(row[4])) for row in cursor.fetchall()}


def _audio_insert_new(batches: list[AudioBatch]) -> set[tuple[int, int]]:
    """Insert the batches whose (device, seq) is not stored yet and set their primary keys; returns
    the (device, seq) pairs inserted (the others are resends).

    ``INSERT … ON CONFLICT (device_id, seq) DO NOTHING RETURNING`` (PostgreSQL; SQLite ≥ 3.35): the
    resends need no look-up before the insert. Written as SQL, not ``bulk_create``, because the ORM
    cannot say which rows it skipped on a conflict, and its per-value compilation was the largest
    cost left in a busy server's audio path (docs/reliability.md, step 5). On PostgreSQL the rows
    travel as one array per column (``unnest``): a fixed statement whose parsing psycopg caches (a
    long ``VALUES`` list was parsed anew on every flush)."""
    if not batches:
        return set()
    conn = sql.db()
    q = conn.ops.quote_name
    fields = [_audio_field(name) for name in _AUDIO_COLUMNS]
    head = f"INSERT INTO {q(AudioBatch._meta.db_table)} ({', '.join(q(f.column) for f in fields)}) "
    tail = " ON CONFLICT ({}) DO NOTHING RETURNING {}".format(
        ", ".join(q(_audio_field(name).column) for name in ("device", "seq")),
        ", ".join(q(_audio_field(name).column) for name in ("id", "device", "seq")),
    )
    rows = [[f.get_db_prep_save(getattr(b, f.attname), conn) for f in fields] for b in batches]
    # The SQL text is built from the model's metadata only; every value travels as a parameter.
    if conn.vendor == "postgresql":
        arrays = ", ".join(f"%b::{f.db_type(conn)}[]" for f in fields)  # binary: sql.parameters_apart
        unnest = f"{head}SELECT * FROM unnest({arrays}){tail}"  # noqa: S608 - see above
        statements = [(unnest, [list(column) for column in zip(*rows, strict=True)])]
    else:  # SQLite: a VALUES list, at most 100 rows (7 parameters each) per statement
        one = "(" + ", ".join(["%s"] * len(fields)) + ")"
        statements = [
            (f"{head}VALUES {', '.join([one] * len(chunk))}{tail}", [v for r in chunk for v in r])
            for chunk in (rows[i : i + 100] for i in range(0, len(rows), 100))
        ]
    by_key = {(b.device_id, b.seq): b for b in batches}
    inserted: set[tuple[int, int]] = set()
    with sql.parameters_apart(conn) as cursor:
        for statement, params in statements:
            cursor.execute(statement, params)
            for pk, device_id, seq in cursor.fetchall():
                batch = by_key[(device_id, seq)]
                batch.pk = pk
                batch._state.adding, batch._state.db = False, conn.alias
                inserted.add((device_id, seq))
    return inserted


_AUDIO_COLUMNS = ("attempt", "device", "seq", "started_at", "received_at", "interval_ms", "levels")


def _audio_field(name: str) -> Field[Any, Any]:
    field = AudioBatch._meta.get_field(name)
    assert isinstance(field, Field)
    return field


def _audio_stored(*, wanted: set[tuple[int, int]]) -> dict[tuple[int, int], AudioBatch]:
    """The rows already stored for these (device, seq) pairs (resends: usually none). One query that
    matches exactly those pairs, grouped by seq; ``device__in × seq__in`` would also match each
    device's other recent batches (the phones of a process tick at about the same seqs)."""
    by_seq: dict[int, list[int]] = {}
    for device_id, seq in wanted:
        by_seq.setdefault(seq, []).append(device_id)
    if not by_seq:
        return {}
    match = Q()
    for seq, device_ids in by_seq.items():
        match |= Q(seq=seq, device_id__in=device_ids)
    return {(b.device_id, b.seq): b for b in AudioBatch.objects.filter(match)}


def _audio_ingest_one_safely(item: AudioItem) -> AudioBatch | ApplicationError:
    try:
        return audio_ingest(
            device_id=item.device_id,
            seq=item.seq,
            interval_ms=item.interval_ms,
            levels=list(item.levels),
            started_at=item.started_at,
        )
    except ApplicationError as exc:
        return exc
