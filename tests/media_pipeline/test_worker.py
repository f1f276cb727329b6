"""Production profile: real Celery workers on Redis analyse snapshots stored in SeaweedFS S3."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from django.conf import settings

from media_pipeline import services
from media_pipeline.models import FrameAnalysis, Snapshot
from monitor import services as monitor_services
from monitor.models import PhoneDevice
from tests import services as test_services
from tests.exams.helpers import make_attempt
from tests.media_pipeline import images
from tests.monitor import factories as mf
from tests.monitor.wsclient import WS

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

    assert snap.uploaded is False  # acked from the spool; the upload task puts it into S3
    wait_until(lambda: Snapshot.objects.filter(pk=snap.pk, uploaded=True).exists())
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
        wait_until(lambda: "Task media.process_snapshot[" in first.log_path.read_text(), timeout=30)
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


def test_an_analysis_by_a_worker_reaches_a_proctor_websocket_and_the_image_comes_from_s3(
    live_server_process: test_services.Process, celery_worker_process: test_services.Process
) -> None:
    import hashlib

    import requests
    from django.test import Client
    from django.urls import reverse

    from exams.models import Incident

    session = mf.running_session()
    sitting = mf.sitting(session, 1)
    device = PhoneDevice.objects.create(attempt=sitting.attempt, kind="miniprogram")
    proctor = mf.proctor(session)
    base = live_server_process.extra["url"]
    ticket = monitor_services.ws_ticket_issue(role="proctor", user=proctor).raw
    ws = WS(f"{base.replace('http://', 'ws://')}/ws/proctor/?ticket={ticket}", origin=base)
    try:
        ws.send({"type": "hello", "version": 1})
        ws.until("hello_ok")
        ws.send({"type": "subscribe", "session_id": session.pk})
        ws.until("session_state")

        # An empty desk during the exam: stored in S3, analysed by the worker, pushed by daphne.
        snap = services.snapshot_ingest(device_id=device.pk, seq=1, data=images.photo_jpeg("coffee", 617))

        # (The picture itself reaches proctors from the phone socket at ingest: tests/monitor.)
        flag = ws.until("flag", snapshot_id=snap.pk, timeout=60)
    finally:
        ws.close()
    thumbnail_url = reverse("api:snapshot-thumbnail", kwargs={"snapshot_id": snap.pk})
    assert flag["attempt_id"] == sitting.attempt.pk
    assert flag["person_count"] == 0 and "person_count" in flag["reasons"]
    assert FrameAnalysis.objects.get(snapshot=snap).person_count == 0
    assert Incident.objects.get(attempt=sitting.attempt, kind="out_of_frame").snapshot_ids == [snap.pk]

    # Once the upload task has put it into S3 (until then the server proxies it from the spool), the
    # proctor opens the frame: a presigned, short-lived SeaweedFS URL that verifies its signature.
    wait_until(lambda: Snapshot.objects.filter(pk=snap.pk, uploaded=True).exists(), timeout=30)
    client = Client()
    client.force_login(proctor)
    cookies = {"sessionid": client.cookies["sessionid"].value}
    image = requests.get(
        base + reverse("api:snapshot-image", kwargs={"snapshot_id": snap.pk}),
        cookies=cookies,
        allow_redirects=False,
        timeout=10,
    )
    assert image.status_code == 302
    presigned = image.headers["Location"]
    assert "X-Amz-Signature=" in presigned and "X-Amz-Expires=60" in presigned
    body = requests.get(presigned, timeout=10)
    assert body.status_code == 200
    assert hashlib.sha256(body.content).hexdigest() == snap.sha256
    tampered = requests.get(presigned.replace("X-Amz-Expires=60", "X-Amz-Expires=6000"), timeout=10)
    assert tampered.status_code == 403  # the signature covers the lifetime
    thumb = requests.get(base + thumbnail_url, cookies=cookies, timeout=10)
    assert (thumb.status_code, thumb.headers["Content-Type"]) == (200, "image/jpeg")
