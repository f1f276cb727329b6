"""Rows and stored files for evidence tests, created directly (other areas' services may not
exist yet; the models are the contract)."""

from __future__ import annotations

import hashlib
import io
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils import timezone
from PIL import Image

from accounts import id_numbers
from accounts.models import Candidate
from accounts.services import candidate_create
from exams.events import event_append
from exams.models import Attempt, ExamSession, Incident, Subject
from media_pipeline.models import AudioBatch, FrameAnalysis, Snapshot
from monitor.models import PhoneDevice

_counter = itertools.count(1)


def jpeg_bytes(seed: int, size: tuple[int, int] = (96, 72)) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, size=(size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=85)
    return out.getvalue()


def stored_key(data: bytes) -> tuple[str, str]:
    """Content-addressed like the media pipeline: the same bytes get the same key."""
    sha = hashlib.sha256(data).hexdigest()
    key = f"snapshots/{sha[:2]}/{sha}.jpg"
    storage = storages["evidence"]
    if not storage.exists(key):
        storage.save(key, ContentFile(data))
    return sha, key


def session(*, ends_days_ago: float = 0, retention_days: int = 180) -> ExamSession:
    n = next(_counter)
    subject, _ = Subject.objects.get_or_create(code="carbon-asset", defaults={"name": "碳资产管理应用"})
    ends = timezone.now() - timedelta(days=ends_days_ago)
    return ExamSession.objects.create(
        subject=subject,
        level="junior",
        kind="formal",
        starts_at=ends - timedelta(hours=2),
        ends_at=ends,
        retention_days=retention_days,
        snapshot_interval_s=10 + n % 2,
    )


def candidate() -> tuple[Candidate, str]:
    n = next(_counter)
    number = id_numbers.make_valid(f"32010219900101{n:03d}")
    cand = candidate_create(ticket_number=f"138{n:08d}", id_number=number, name=f"张三{n}")
    return cand, number


@dataclass
class AttemptWithEvidence:
    attempt: Attempt
    device: PhoneDevice
    snapshots: list[Snapshot]
    id_number: str


def attempt(
    *,
    exam_session: ExamSession,
    snapshots: int = 3,
    images: list[bytes] | None = None,
    events: int = 3,
    status: str = "force_submitted",
) -> AttemptWithEvidence:
    cand, number = candidate()
    att = Attempt.objects.create(
        candidate=cand,
        session=exam_session,
        status=status,
        status_reason="screen_leaves_exceeded",
        screen_leaves=3,
        warnings={"headphones": 1, "two_people": 2},
        score_void=False,
    )
    device = PhoneDevice.objects.create(attempt=att, kind="miniprogram")
    start = exam_session.starts_at
    for seq in range(1, events + 1):
        event_append(
            attempt=att,
            kind=["check_in", "focus_lost", "force_submit"][(seq - 1) % 3],
            actor="system",
            cause="测试",
            data={"n": seq, "text": "=cmd"},
        )
    Incident.objects.create(
        attempt=att,
        kind="two_people",
        severity=Incident.Severity.CRITICAL,
        status=Incident.Status.DISMISSED,
        first_seen_at=start + timedelta(minutes=5),
        last_seen_at=start + timedelta(minutes=6),
        occurrences=2,
        note="看错了",
    )
    images = images if images is not None else [jpeg_bytes(att.pk * 1000 + i) for i in range(snapshots)]
    snaps = []
    for seq, data in enumerate(images, start=1):
        sha, key = stored_key(data)
        snap = Snapshot.objects.create(
            attempt=att,
            device=device,
            seq=seq,
            captured_at=start + timedelta(seconds=10 * seq),
            received_at=start + timedelta(seconds=10 * seq + 1),
            sha256=sha,
            storage_key=key,
            content_type="image/jpeg",
            width=96,
            height=72,
            size_bytes=len(data),
            analysis_status="done",
        )
        FrameAnalysis.objects.create(
            snapshot=snap,
            report={"guidance": {"zh": "请抬高手机", "en": "raise the phone"}},
            passed=seq % 2 == 0,
            person_count=1,
            analyzer_version="test-1",
            duration_ms=3.5,
        )
        snaps.append(snap)
    AudioBatch.objects.create(
        attempt=att,
        device=device,
        seq=1,
        received_at=start + timedelta(seconds=30),
        interval_ms=100,
        levels=bytes([256 - 40, 256 - 35, 256 - 60]),
    )
    return AttemptWithEvidence(attempt=att, device=device, snapshots=snaps, id_number=number)


def when(days: float) -> datetime:
    return timezone.now() + timedelta(days=days)
