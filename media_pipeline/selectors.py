"""Reads of the media pipeline for proctors: visible snapshots, thumbnails, the latest report."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q
from PIL import Image

from . import errors, storage
from .models import FrameAnalysis, ReferenceFrame, Snapshot


def snapshot_visible_get(*, snapshot_id: int, user: Any) -> Snapshot:
    """The snapshot if ``user`` may see its attempt; a hidden one answers like a missing one, so a
    proctor cannot probe other rooms' ids."""
    from accounts.roles import can_see_attempt

    snapshot = Snapshot.objects.select_related("attempt").filter(pk=snapshot_id).first()
    if snapshot is None or not can_see_attempt(user, snapshot.attempt):
        raise errors.SnapshotNotFound(extra={"snapshot_id": snapshot_id})
    return snapshot


def snapshot_ids_unfinished(*, stored_before: datetime, limit: int) -> list[int]:
    """Snapshots stored before ``stored_before`` whose analysis is pending or that are only in a
    spool, oldest first."""
    unfinished = Q(analysis_status=Snapshot.Analysis.PENDING) | Q(uploaded=False)
    rows = Snapshot.objects.filter(unfinished, received_at__lt=stored_before).order_by("received_at")
    return list(rows.values_list("pk", flat=True)[:limit])


def snapshot_image(*, snapshot: Snapshot) -> bytes:
    return storage.read(snapshot.storage_key)


def snapshot_thumbnail(*, snapshot: Snapshot, width: int) -> bytes:
    """A JPEG about ``width`` pixels wide. JPEG draft mode lets the decoder scale by 1/2..1/8 while
    decoding, so a 640-px frame costs a fraction of a full decode."""
    with Image.open(io.BytesIO(snapshot_image(snapshot=snapshot))) as img:
        img.draft("RGB", (width, max(1, width * img.height // max(1, img.width))))
        rgb = img.convert("RGB")
        if rgb.width > width:
            rgb = rgb.resize((width, max(1, round(rgb.height * width / rgb.width))), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        rgb.save(out, format="JPEG", quality=80)
    return out.getvalue()


@dataclass(frozen=True)
class LatestAnalysis:
    attempt_id: int
    snapshot: Snapshot | None
    analysis: FrameAnalysis | None
    reference: ReferenceFrame | None
    pending: int  # snapshots of the attempt still waiting for analysis


def attempt_latest_analysis(*, attempt_id: int, user: Any) -> LatestAnalysis:
    """The newest analysed frame of an attempt (by receipt), the approved reference, the backlog."""
    from accounts.roles import can_see_attempt
    from exams import selectors as exam_selectors
    from exams.errors import AttemptNotFound

    attempt = exam_selectors.attempt_get(attempt_id=attempt_id)
    if not can_see_attempt(user, attempt):
        raise AttemptNotFound(extra={"attempt_id": attempt_id})
    analysis = (
        FrameAnalysis.objects.select_related("snapshot")
        .filter(snapshot__attempt_id=attempt_id)
        .order_by("-snapshot__received_at", "-snapshot_id")
        .first()
    )
    reference = ReferenceFrame.objects.filter(attempt_id=attempt_id).first()
    pending = Snapshot.objects.filter(
        attempt_id=attempt_id, analysis_status=Snapshot.Analysis.PENDING
    ).count()
    return LatestAnalysis(
        attempt_id=attempt_id,
        snapshot=analysis.snapshot if analysis is not None else None,
        analysis=analysis,
        reference=reference,
        pending=pending,
    )
