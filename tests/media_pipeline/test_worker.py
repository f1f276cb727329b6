"""Production profile: real Celery workers on Redis analyse snapshots stored in SeaweedFS S3."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from django.conf import settings

from media_pipeline import services
from media_pipeline.models import FrameAnalysis, Snapshot
from monitor.models import PhoneDevice
from tests import services as test_services
from tests.exams.helpers import make_attempt
from tests.media_pipeline import images

pytestmark = [pytest.mark.production_only, pytest.mark.django_db(transaction=True)]


def wait_until(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def s3_object(key: str) -> dict[str, object]:
    from django.core.files.storage import storages

    storage = storages["evidence"]
    client = storage.connection.meta.client  # type: ignore[attr-defined]
    return client.head_object(Bucket=storage.bucket_name, Key=storage._normalize_name(key))  # type: ignore[attr-defined]


def test_a_worker_analyses_a_snapshot_stored_in_s3(celery_worker_process: test_services.Process) -> None:
    device = PhoneDevice.objects.create(attempt=make_attempt(), kind="miniprogram")

    snap = services.snapshot_ingest(
        device_id=device.pk, seq=1, data=images.photo_jpeg("astronaut", width=623)
    )

    assert snap.uploaded is True
    head = s3_object(snap.storage_key)  # SeaweedFS verified the signature and the Content-MD5
    assert head["ContentLength"] == snap.size_bytes
    wait_until(lambda: FrameAnalysis.objects.filter(snapshot=snap).exists())
    analysis = FrameAnalysis.objects.get(snapshot=snap)
    assert analysis.person_count == 1
    assert analysis.report["checks"]["head_top_visible"]["value"] is True
    snap.refresh_from_db()
    assert snap.analysis_status == Snapshot.Analysis.DONE
    # logged right after the commit, so it may trail the row by a moment
    wait_until(
        lambda: f"analysed snapshot {snap.pk} " in celery_worker_process.log_path.read_text(), timeout=10
    )


def test_a_worker_killed_mid_analysis_loses_nothing_and_repeats_nothing(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **server_env,
        "DJANGO_SETTINGS_MODULE": "tests.media_pipeline.worker_settings",
        "MEDIA_ANALYSIS_FAULT_DELAY_S": "1.5",
    }
    device = PhoneDevice.objects.create(attempt=make_attempt(), kind="miniprogram")
    first = test_services.start_celery_worker(env, log_dir=tmp_path / "w1", name="w1")
    try:
        snaps = [
            services.snapshot_ingest(
                device_id=device.pk, seq=s, data=images.photo_jpeg("grace_hopper", 600 + s)
            )
            for s in range(1, 5)
        ]
        # Kill it while it holds a task: received, not finished (the fault delay keeps it busy).
        wait_until(lambda: "Task media.analyse_snapshot[" in first.log_path.read_text(), timeout=30)
        time.sleep(0.5)
        first.kill()
    finally:
        first.stop()
    done_before = set(FrameAnalysis.objects.values_list("snapshot_id", flat=True))
    assert len(done_before) < len(snaps)  # the kill really interrupted work

    second = test_services.start_celery_worker(
        {**env, "MEDIA_ANALYSIS_FAULT_DELAY_S": "0"}, log_dir=tmp_path / "w2", name="w2"
    )
    try:
        wait_until(lambda: FrameAnalysis.objects.filter(snapshot__in=snaps).count() == len(snaps), timeout=90)
        time.sleep(2)  # the log line follows the commit; and a duplicate delivery would show up here
    finally:
        second.stop()

    assert Snapshot.objects.filter(pk__in=[s.pk for s in snaps], analysis_status="done").count() == len(snaps)
    for snap in snaps:
        assert FrameAnalysis.objects.filter(snapshot=snap).count() == 1
    logs = first.log_path.read_text() + second.log_path.read_text()
    analysed = re.findall(r"analysed snapshot (\d+) in", logs)
    assert sorted(int(i) for i in analysed) == sorted(s.pk for s in snaps)  # each analysed exactly once
    assert settings.CELERY_TASK_ACKS_LATE is True
