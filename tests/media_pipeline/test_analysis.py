"""The analysis task glue: idempotent, reference frames, incidents, the check_framing command."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from exams.models import Incident
from media_pipeline import services
from media_pipeline.evaluation.build import scale_luma
from media_pipeline.models import FrameAnalysis, ReferenceFrame, Snapshot
from media_pipeline.tasks import process_snapshot
from monitor.models import PhoneDevice
from tests.conftest import ROOT
from tests.media_pipeline import images

pytestmark = pytest.mark.django_db


def ingest(device: PhoneDevice, seq: int, data: bytes) -> Snapshot:
    return services.snapshot_ingest(device_id=device.pk, seq=seq, data=data)  # on_commit not run here


def test_running_the_task_twice_yields_one_analysis(device: PhoneDevice) -> None:
    snap = ingest(device, 1, images.photo_jpeg("astronaut"))
    assert snap.analysis_status == Snapshot.Analysis.PENDING

    process_snapshot.apply(args=(snap.pk,), throw=True)
    first = FrameAnalysis.objects.get(snapshot=snap)
    process_snapshot.apply(args=(snap.pk,), throw=True)

    assert FrameAnalysis.objects.filter(snapshot=snap).count() == 1
    assert FrameAnalysis.objects.get(snapshot=snap).created_at == first.created_at
    snap.refresh_from_db()
    assert snap.analysis_status == Snapshot.Analysis.DONE
    assert first.report["person_count"] == 1 and first.passed is (first.report["failing"] == [])


def test_a_reference_is_approved_after_n_passing_frames_and_drift_is_flagged(
    device: PhoneDevice, settings: object
) -> None:
    settings.MEDIA_CHECK_THRESHOLDS = {"desk_horizontal": 0.0, "desk_min_band": 0.0}  # type: ignore[attr-defined]  # this photo has no desk
    settings.MEDIA_REFERENCE_AUTO_FRAMES = 2  # type: ignore[attr-defined]
    base = images.bgr("grace_hopper")
    frames = [images.jpeg(scale_luma(base, 1.0 + 0.05 * i, i)) for i in range(3)]
    for seq, data in enumerate(frames[:2], start=1):
        services.snapshot_analyse(snapshot_id=ingest(device, seq, data).pk)
    ref = ReferenceFrame.objects.get(attempt=device.attempt)
    assert ref.approved_automatically is True and ref.snapshot.seq == 2

    import cv2

    fallen = images.jpeg(cv2.rotate(base, cv2.ROTATE_90_CLOCKWISE))
    analysis = services.snapshot_analyse(snapshot_id=ingest(device, 3, fallen).pk)
    assert analysis is not None
    assert analysis.report["checks"]["scene_drift"]["value"] is True
    assert "scene_drift" in analysis.report["reasons"]


def test_flags_become_one_incident_per_continuous_condition(running_device: PhoneDevice) -> None:
    dark = images.jpeg(scale_luma(images.bgr("coffee"), 0.2))
    ids = [services.snapshot_analyse(snapshot_id=ingest(running_device, s, dark).pk) for s in (1, 2)]
    assert all(a is not None for a in ids)
    incident = Incident.objects.get(attempt=running_device.attempt, kind="out_of_frame")
    assert incident.occurrences == 2
    assert incident.ended_at is None
    assert Incident.objects.filter(attempt=running_device.attempt, kind="too_dark").count() == 1

    services.snapshot_analyse(snapshot_id=ingest(running_device, 3, images.photo_jpeg("astronaut")).pk)
    incident.refresh_from_db()
    assert incident.ended_at is not None  # the candidate is back: the condition ended


def test_set_up_frames_guide_but_open_no_incident(device: PhoneDevice) -> None:
    services.snapshot_analyse(snapshot_id=ingest(device, 1, images.photo_jpeg("coffee")).pk)
    assert Incident.objects.filter(attempt=device.attempt).count() == 0
    report = FrameAnalysis.objects.get(snapshot__seq=1, snapshot__device=device).report
    assert {"zh": "请坐到画面中，让摄像头拍到您本人", "en": "Sit where the camera can see you"} in report[
        "guidance"
    ]


def test_voices_while_absent_open_an_incident(running_device: PhoneDevice) -> None:
    services.snapshot_analyse(snapshot_id=ingest(running_device, 1, images.photo_jpeg("coffee")).pk)
    batch = services.audio_ingest(device_id=running_device.pk, seq=1, interval_ms=100, levels=[-30.0] * 30)
    incident = Incident.objects.get(attempt=running_device.attempt, kind="voices_while_absent")
    assert incident.status == Incident.Status.OPEN
    assert batch.attempt_id == running_device.attempt_id


def test_check_framing_prints_one_json_object(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    (folder / "person.jpg").write_bytes(images.photo_jpeg("astronaut"))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "DJANGO_SETTINGS"))}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.embedded"
    env["MONITOR_DATA_DIR"] = str(folder / "data")  # an empty data folder: no database exists there
    out = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "check_framing",
            str(folder / "person.jpg"),
            str(folder / "broken.jpg"),
            str(folder / "missing.jpg"),
            "--json",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(out.stdout)
    assert set(result) == {"person.jpg", "broken.jpg", "missing.jpg"}
    person = result["person.jpg"]
    assert person["person_count"] == 1
    for key in (
        "head_top_visible",
        "chest_visible",
        "desk_visible",
        "too_dark",
        "backlit",
        "blurred",
        "blocked",
    ):
        assert isinstance(person[key], bool), key
        assert isinstance(person[f"{key}_score"], float | int), key
    assert person["head_top_visible"] is True
    assert result["broken.jpg"] == {"error": "not_an_image"}
    assert result["missing.jpg"]["error"] == "unreadable"
    assert not (folder / "data" / "db.sqlite3").exists()
