"""Composes an evidence bundle from the database and evidence storage (reads only).

``bundle_write`` streams everything into a ``BundleWriter``: rows are iterated with
``.iterator()``, snapshot files are copied from storage in 64 KB chunks and re-hashed on the way
(a stored file whose content no longer matches its recorded SHA-256 is reported in the bundle,
not silently exported).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import IO, Any

from django.template.loader import render_to_string
from django.utils import timezone, translation

from exams import events as exams_events
from exams.models import Attempt, AttemptEvent, ExamSession, Incident
from media_pipeline.evidence import bundle, selectors, signing, storage_io
from media_pipeline.models import AudioBatch, FrameAnalysis, Snapshot

ProgressCallback = Callable[[int, int], None]

_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}

EVENT_FIELDS = [
    "seq",
    "kind",
    "actor",
    "cause",
    "data",
    "evidence",
    "client_time",
    "created_at",
    "prev_hash",
    "hash",
]
INCIDENT_FIELDS = [
    "id",
    "kind",
    "severity",
    "status",
    "first_seen_at",
    "last_seen_at",
    "ended_at",
    "occurrences",
    "snapshot_ids",
    "decided_by_id",
    "decided_at",
    "note",
]
SNAPSHOT_FIELDS = [
    "id",
    "device_id",
    "seq",
    "captured_at",
    "received_at",
    "sha256",
    "content_type",
    "width",
    "height",
    "size_bytes",
    "analysis_status",
    "file",
    "problem",
]
ANALYSIS_FIELDS = [
    "snapshot_id",
    "snapshot_seq",
    "passed",
    "person_count",
    "analyzer_version",
    "duration_ms",
    "created_at",
    "report",
]
AUDIO_FIELDS = ["device_id", "seq", "started_at", "received_at", "interval_ms", "levels_dbfs"]


@dataclass
class ExportStats:
    attempts: int = 0
    snapshots: int = 0
    snapshots_missing: int = 0
    snapshots_mismatched: int = 0
    events: int = 0
    incidents: int = 0
    analyses: int = 0
    audio_batches: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)


def _row(obj: Any, fields: list[str]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in fields}


def _levels(raw: bytes | memoryview) -> list[int]:
    # AudioBatch.levels: one signed byte per interval (dBFS rounded).
    return [b - 256 if b > 127 else b for b in bytes(raw)]


def _hashed_chunks(handle: IO[bytes], digest: Any) -> Iterator[bytes]:
    while chunk := handle.read(bundle.CHUNK):
        digest.update(chunk)
        yield chunk


def _attempt_dir(attempt: Attempt) -> str:
    return f"attempts/attempt-{attempt.pk}"


def _write_snapshots(
    writer: bundle.BundleWriter, attempt: Attempt, stats: ExportStats, tick: Callable[[], None]
) -> None:
    base = _attempt_dir(attempt)
    storage = storage_io.evidence_storage()
    index: list[dict[str, Any]] = []
    for snap in (
        Snapshot.objects.filter(attempt=attempt).order_by("received_at", "pk").iterator(chunk_size=500)
    ):
        ext = _EXTENSIONS.get(snap.content_type, "bin")
        path = f"{base}/snapshots/{snap.seq:06d}-d{snap.device_id}-{snap.sha256[:12]}.{ext}"
        row = _row(snap, SNAPSHOT_FIELDS[:-2])
        row["file"], row["problem"] = path, ""
        try:
            # Opened before the ZIP entry starts: a missing file must not leave a half entry.
            handle = storage_io.open_stream(snap.storage_key, storage)
        except FileNotFoundError as exc:
            row["file"], row["problem"] = "", f"missing in storage ({type(exc).__name__})"
            stats.snapshots_missing += 1
            stats.problems.append({"snapshot_id": snap.pk, "problem": "missing"})
        else:
            digest = hashlib.sha256()
            with closing(handle):
                writer.add_chunks(path, _hashed_chunks(handle, digest), compress=False)
            stats.snapshots += 1
            if digest.hexdigest() != snap.sha256:
                row["problem"] = "stored content does not match the recorded sha256"
                stats.snapshots_mismatched += 1
                stats.problems.append({"snapshot_id": snap.pk, "problem": "sha256_mismatch"})
        index.append(row)
        tick()
    writer.add_csv(f"{base}/snapshots.csv", SNAPSHOT_FIELDS, ([r[f] for f in SNAPSHOT_FIELDS] for r in index))
    writer.add_json(f"{base}/snapshots.json", index)


def _write_attempt_tables(
    writer: bundle.BundleWriter, attempt: Attempt, stats: ExportStats
) -> dict[str, Any]:
    base = _attempt_dir(attempt)
    events = AttemptEvent.objects.filter(attempt=attempt).order_by("seq")
    writer.add_csv(
        f"{base}/events.csv", EVENT_FIELDS, ([getattr(e, f) for f in EVENT_FIELDS] for e in events.iterator())
    )
    writer.add_json_array(f"{base}/events.json", (_row(e, EVENT_FIELDS) for e in events.iterator()))
    stats.events += events.count()

    incidents = list(Incident.objects.filter(attempt=attempt).order_by("first_seen_at", "pk"))
    writer.add_csv(
        f"{base}/incidents.csv",
        INCIDENT_FIELDS,
        ([getattr(i, f) for f in INCIDENT_FIELDS] for i in incidents),
    )
    writer.add_json(f"{base}/incidents.json", [_row(i, INCIDENT_FIELDS) for i in incidents])
    stats.incidents += len(incidents)

    analyses = (
        FrameAnalysis.objects.filter(snapshot__attempt=attempt)
        .select_related("snapshot")
        .order_by("snapshot__received_at", "pk")
    )

    def analysis_rows() -> Iterator[dict[str, Any]]:
        for a in analyses.iterator(chunk_size=500):
            row = _row(a, ANALYSIS_FIELDS[2:])
            yield {"snapshot_id": a.snapshot_id, "snapshot_seq": a.snapshot.seq, **row}

    writer.add_csv(
        f"{base}/analysis.csv", ANALYSIS_FIELDS, ([r[f] for f in ANALYSIS_FIELDS] for r in analysis_rows())
    )
    writer.add_json_array(f"{base}/analysis.json", analysis_rows())
    stats.analyses += analyses.count()

    audio = AudioBatch.objects.filter(attempt=attempt).order_by("received_at", "pk")

    def audio_rows() -> Iterator[dict[str, Any]]:
        for b in audio.iterator(chunk_size=500):
            yield {**_row(b, AUDIO_FIELDS[:-1]), "levels_dbfs": _levels(b.levels)}

    writer.add_csv(f"{base}/audio.csv", AUDIO_FIELDS, ([r[f] for f in AUDIO_FIELDS] for r in audio_rows()))
    writer.add_json_array(f"{base}/audio.json", audio_rows())
    stats.audio_batches += audio.count()
    return {"incidents": incidents, "event_count": events.count()}


def _chain_status(attempt: Attempt) -> tuple[str, list[dict[str, Any]]]:
    """The exams area's hash-chain verification of this attempt's events, recorded in the bundle."""
    problems = exams_events.verify_chain(attempt)
    listed = [{"seq": p.seq, "problem": p.problem} for p in problems]
    return ("ok" if not problems else "broken"), listed


def _report_html(attempt: Attempt, incidents: list[Incident], chain: str, generated_at: datetime) -> bytes:
    events = list(
        AttemptEvent.objects.filter(attempt=attempt)
        .order_by("seq")
        .values("seq", "kind", "actor", "cause", "created_at")
    )
    warnings = {str(k): int(v) for k, v in (attempt.warnings or {}).items()}
    with translation.override("zh-hans"), timezone.override("Asia/Shanghai"):
        html = render_to_string(
            "evidence/attempt_report.html",
            {
                "attempt": attempt,
                "candidate": attempt.candidate,  # the template shows only the masked ID number
                "session": attempt.session,
                "warnings": sorted(warnings.items()),
                "warnings_total": sum(warnings.values()),
                "events": events,
                "incidents": incidents,
                "snapshot_count": Snapshot.objects.filter(attempt=attempt).count(),
                "chain": chain,
                "generated_at": generated_at,
                "outcome": attempt.outcome,
            },
        )
    return html.encode()


def _session_json(session: ExamSession) -> dict[str, Any]:
    return {
        "id": session.pk,
        "subject": session.subject.name,
        "subject_code": session.subject.code,
        "level": session.level,
        "kind": session.kind,
        "starts_at": session.starts_at,
        "ends_at": session.ends_at,
        "retention_days": session.retention_days,
        "rules": {
            "leave_return_limit_s": session.leave_return_limit_s,
            "max_screen_leaves": session.max_screen_leaves,
            "break_limit_s": session.break_limit_s,
            "reconnect_limit_s": session.reconnect_limit_s,
            "max_warnings_per_category": session.max_warnings_per_category,
        },
    }


def bundle_write(
    *,
    fileobj: IO[bytes],
    session_id: int,
    attempt_id: int | None,
    metadata: dict[str, Any],
    progress: ProgressCallback | None = None,
) -> tuple[bytes, ExportStats]:
    """Writes the whole bundle into ``fileobj``; returns the signed manifest bytes and counts."""
    session = selectors.session_get(session_id=session_id)
    attempts = selectors.attempts_for_scope(session_id=session_id, attempt_id=attempt_id)
    total = attempts.count() + Snapshot.objects.filter(attempt__in=attempts).count()
    done = 0
    last_reported = -1

    def tick() -> None:
        nonlocal done, last_reported
        done += 1
        if progress is not None and total:
            percent = done * 100 // total
            if percent != last_reported:
                last_reported = percent
                progress(done, total)

    stats = ExportStats()
    generated_at = timezone.now()
    writer = bundle.BundleWriter(fileobj)
    writer.add_bytes("README.txt", _readme().encode())
    writer.add_json("session.json", _session_json(session))
    rows = [
        row for row in selectors.results_rows(session_id=session_id) if attempt_id in (None, row.attempt_id)
    ]
    header = [key for key, _label in selectors.RESULT_COLUMNS]
    writer.add_csv("attempts.csv", header, (row.values() for row in rows))
    writer.add_json("attempts.json", [asdict(row) for row in rows])
    chains: dict[str, dict[str, Any]] = {}
    for attempt in attempts.iterator(chunk_size=100):
        stats.attempts += 1
        tables = _write_attempt_tables(writer, attempt, stats)
        _write_snapshots(writer, attempt, stats, tick)
        chain, chain_problems = _chain_status(attempt)
        chains[str(attempt.pk)] = {"status": chain, "problems": chain_problems}
        writer.add_bytes(
            f"{_attempt_dir(attempt)}/report.html",
            _report_html(attempt, tables["incidents"], chain, generated_at),
        )
        tick()
    counts = {k: v for k, v in asdict(stats).items() if k != "problems"}
    manifest = writer.finish(
        {
            **metadata,
            "created_at": generated_at.isoformat(),
            "scope": {"session_id": session_id, "attempt_id": attempt_id},
            "counts": counts,
            "event_chains": chains,
            "problems": stats.problems,
        },
        signing.configured_private_key(),
    )
    return manifest, stats


def _readme() -> str:
    return (
        "考试云监控 证据包 (exam evidence bundle)\n"
        "========================================\n\n"
        "manifest.json 列出包内每个文件的 SHA-256 和大小；manifest.sig 是对 manifest.json 的 Ed25519 签名。\n"
        "manifest.json lists the SHA-256 and size of every file; manifest.sig is an Ed25519 signature\n"
        "over the exact bytes of manifest.json.\n\n"
        "验证 / verify:  python manage.py verify_export BUNDLE.zip [--public-key HEX]\n"
        "Without the project: check the signature with any Ed25519 library and the published public\n"
        "key, then compare each file's SHA-256 with the manifest.\n\n"
        "CSV 文件为 UTF-8 (带 BOM)，可直接用 Excel 打开。CSV files are UTF-8 with a BOM (Excel).\n"
        "身份证号仅以脱敏形式出现。ID numbers appear masked only.\n"
    )
