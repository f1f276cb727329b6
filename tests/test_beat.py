"""Production: ``celery beat`` drives the safety-net sweeps on real worker processes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from media_pipeline import services as media_services
from media_pipeline.models import FrameAnalysis, Snapshot
from monitor.models import PhoneDevice
from tests import services
from tests.exams.helpers import make_attempt
from tests.media_pipeline import images

pytestmark = [pytest.mark.production_only, pytest.mark.django_db(transaction=True)]


def test_beat_requeues_a_frame_whose_server_died_before_publishing_it(
    server_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = PhoneDevice.objects.create(attempt=make_attempt(), kind="miniprogram")
    # The server commits the row and the spooled file, then dies before its Celery publish.
    monkeypatch.setattr(media_services, "enqueue_on_commit", lambda *args, **kwargs: None)
    data = images.photo_jpeg("astronaut", 629)
    snap = media_services.snapshot_ingest(device_id=device.pk, seq=1, data=data)
    assert (snap.uploaded, snap.analysis_status) == (False, Snapshot.Analysis.PENDING)

    env = {**server_env, "MEDIA_SNAPSHOT_SWEEP_SECONDS": "1", "MEDIA_SNAPSHOT_SWEEP_AFTER_S": "0"}
    worker = services.start_celery_worker(env, log_dir=tmp_path / "worker")
    beat = services.start_celery_beat(env, log_dir=tmp_path / "beat")
    try:
        deadline = time.monotonic() + 60
        while not Snapshot.objects.filter(pk=snap.pk, uploaded=True, analysis_status="done").exists():
            assert time.monotonic() < deadline, beat.log_tail() + worker.log_tail()
            time.sleep(0.3)
        time.sleep(1.5)  # the sweep may have queued it more than once meanwhile
    finally:
        beat.stop()
        worker.stop()

    assert FrameAnalysis.objects.filter(snapshot=snap).count() == 1  # repeats changed nothing
    beat_log = beat.log_path.read_text()
    for entry in ("media-snapshot-sweep", "exams-deadline-sweep"):  # the 1 s schedules here
        assert f"Sending due task {entry}" in beat_log
    worker_log = worker.log_path.read_text()
    assert "Task media.snapshot_sweep[" in worker_log and "Task media.process_snapshot[" in worker_log
