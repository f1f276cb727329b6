"""Snapshot ingest: the validation catalogue (each refusal has its code and stores nothing),
normalisation (EXIF stripped, iOS PNG → JPEG), content addressing and idempotency."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.storage import storages
from PIL import Image

from media_pipeline import errors, services, storage
from media_pipeline.models import AudioBatch, FrameAnalysis, Snapshot
from media_pipeline.signals import frame_analysed
from monitor.models import PhoneDevice
from tests.media_pipeline import images

pytestmark = pytest.mark.django_db


def evidence_files() -> set[str]:
    storages_setting: dict[str, Any] = settings.STORAGES
    root = Path(storages_setting["evidence"]["OPTIONS"]["location"])
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


# Transactional: the analysis runs after the real commit, and monitor.broadcast's receiver (which
# closes stale connections, as a worker thread must) runs as it does in production.
@pytest.mark.django_db(transaction=True)
def test_a_photo_is_stored_content_addressed_and_analysed(device: PhoneDevice) -> None:
    data = images.photo_jpeg("astronaut")
    received: list[dict[str, Any]] = []
    frame_analysed.connect(lambda sender, **kw: received.append(kw), weak=False, dispatch_uid="test-ingest")
    try:
        snap = services.snapshot_ingest(device_id=device.pk, seq=1, data=data)
    finally:
        frame_analysed.disconnect(dispatch_uid="test-ingest")
    assert received == [
        {
            "signal": frame_analysed,
            "snapshot_id": snap.pk,
            "attempt_id": device.attempt_id,
            "device_id": device.pk,
        }
    ]

    stored = storage.read(snap.storage_key)
    assert snap.sha256 == hashlib.sha256(stored).hexdigest()
    assert snap.storage_key == f"snapshots/{snap.sha256[:2]}/{snap.sha256}.jpg"
    assert (snap.width, snap.height, snap.content_type) == (640, 640, "image/jpeg")
    assert snap.size_bytes == len(stored)
    assert snap.uploaded is True
    assert snap.attempt_id == device.attempt_id
    snap.refresh_from_db()
    assert snap.analysis_status == Snapshot.Analysis.DONE  # the test profile runs tasks after commit
    analysis = FrameAnalysis.objects.get(snapshot=snap)
    assert analysis.person_count == 1
    assert analysis.report["checks"]["head_top_visible"]["value"] is True


def test_a_repeat_of_the_same_seq_returns_the_stored_row_unchanged(
    device: PhoneDevice, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        first = services.snapshot_ingest(device_id=device.pk, seq=7, data=images.photo_jpeg("astronaut"))
    files = evidence_files()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        again = services.snapshot_ingest(device_id=device.pk, seq=7, data=images.photo_jpeg("coffee"))
    assert callbacks == []  # nothing queued again

    assert again.pk == first.pk
    assert again.sha256 == first.sha256
    assert Snapshot.objects.count() == 1
    assert evidence_files() == files


def test_identical_frames_share_one_stored_object(device: PhoneDevice) -> None:
    data = images.photo_jpeg("rocket", width=599)  # a frame no other test stores
    before = evidence_files()
    a = services.snapshot_ingest(device_id=device.pk, seq=1, data=data)
    b = services.snapshot_ingest(device_id=device.pk, seq=2, data=data)
    assert a.storage_key == b.storage_key and a.pk != b.pk
    assert evidence_files() - before == {a.storage_key}


REFUSALS = [
    ("not_an_image", lambda: b"%PDF-1.4 definitely not a photo" * 10, "image_not_supported"),
    ("gif", lambda: b"GIF89a" + b"\x00" * 100, "image_not_supported"),
    ("empty", lambda: b"", "image_not_supported"),
    ("truncated_jpeg", lambda: images.photo_jpeg("astronaut")[:5000], "image_corrupt"),
    ("jpeg_magic_then_garbage", lambda: b"\xff\xd8\xff\xe0" + b"\x13" * 4000, "image_corrupt"),
    ("bomb", lambda: images.png_bomb(), "image_bomb"),
    ("huge_header", lambda: images.png_bomb(100_000, 100_000, rows_in_body=1), "image_bomb"),
    ("too_wide", lambda: images.png_of_size(5000, 40), "image_dimensions"),
    ("too_small", lambda: images.png_of_size(20, 20), "image_dimensions"),
    (
        "oversized_bytes",
        lambda: b"\xff\xd8\xff" + b"\x00" * (settings.SNAPSHOT_MAX_BYTES + 1),
        "image_too_large",
    ),
]


@pytest.mark.parametrize(("name", "make", "code"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refused_images_have_a_stable_code_and_store_nothing(
    device: PhoneDevice, name: str, make: object, code: str
) -> None:
    files = evidence_files()
    data = make()  # type: ignore[operator]

    with pytest.raises(errors.ImageRejected) as caught:
        services.snapshot_ingest(device_id=device.pk, seq=1, data=data)

    assert caught.value.code == code
    assert Snapshot.objects.count() == 0
    assert FrameAnalysis.objects.count() == 0
    assert evidence_files() == files


def test_exif_is_stripped_after_applying_the_orientation(device: PhoneDevice) -> None:
    data = images.jpeg_with_exif("astronaut", orientation=6)
    assert Image.open(io.BytesIO(data)).getexif()[0x010F] == "PhoneMaker"
    landscape = Image.open(io.BytesIO(images.jpeg_with_exif("grace_hopper", orientation=6)))
    w, h = landscape.size

    snap = services.snapshot_ingest(device_id=device.pk, seq=1, data=images.jpeg_with_exif("grace_hopper", 6))

    stored = Image.open(io.BytesIO(storage.read(snap.storage_key)))
    assert stored.format == "JPEG"
    assert len(stored.getexif()) == 0
    assert b"Exif" not in storage.read(snap.storage_key)[:64]
    assert (snap.width, snap.height) == (h, w)  # rotated upright: orientation 6 swaps the sides


def test_an_ios_png_with_alpha_is_accepted_as_jpeg(device: PhoneDevice) -> None:
    snap = services.snapshot_ingest(device_id=device.pk, seq=1, data=images.ios_png("astronaut"))
    stored = Image.open(io.BytesIO(storage.read(snap.storage_key)))
    assert (stored.format, stored.mode) == ("JPEG", "RGB")
    assert snap.content_type == "image/jpeg"
    assert (snap.width, snap.height) == (480, 480)


def test_unknown_and_revoked_devices_are_refused(device: PhoneDevice) -> None:
    with pytest.raises(errors.DeviceNotFound):
        services.snapshot_ingest(device_id=device.pk + 999, seq=1, data=images.photo_jpeg())
    PhoneDevice.objects.filter(pk=device.pk).update(revoked_at=device.paired_at)
    with pytest.raises(errors.DeviceRevoked) as caught:
        services.snapshot_ingest(device_id=device.pk, seq=1, data=images.photo_jpeg())
    assert caught.value.code == "device_revoked"
    assert Snapshot.objects.count() == 0


def test_with_a_spool_the_frame_is_durable_there_and_the_upload_task_puts_it_in_storage(
    device: PhoneDevice, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: object
) -> None:
    settings.SNAPSHOT_SPOOL_DIR = str(tmp_path / "spool")  # type: ignore[attr-defined]
    real_upload = storage.upload
    calls: list[str] = []

    def down(*, key: str, data: bytes, content_type: str) -> None:
        calls.append(key)
        raise ConnectionError("S3 unreachable")

    monkeypatch.setattr(storage, "upload", down)

    # a frame no other test stores (the evidence folder is shared by the tests of this process)
    snap = services.snapshot_ingest(device_id=device.pk, seq=1, data=images.photo_jpeg("chelsea", width=611))

    assert snap.uploaded is False
    assert calls == []  # the ack does not wait for S3
    spooled = tmp_path / "spool" / snap.storage_key
    assert hashlib.sha256(spooled.read_bytes()).hexdigest() == snap.sha256
    assert storage.read(snap.storage_key) == spooled.read_bytes()  # analysis reads the spool meanwhile
    assert not storages["evidence"].exists(snap.storage_key)

    with pytest.raises(ConnectionError):  # S3 down: the task fails (and retries), nothing lost
        services.snapshot_upload_spooled(snapshot_id=snap.pk)
    assert calls == [snap.storage_key]
    snap.refresh_from_db()
    assert snap.uploaded is False and spooled.exists()

    monkeypatch.setattr(storage, "upload", real_upload)
    assert services.snapshot_upload_spooled(snapshot_id=snap.pk) is True
    snap.refresh_from_db()
    assert snap.uploaded is True
    assert not spooled.exists()
    assert storages["evidence"].exists(snap.storage_key)
    assert hashlib.sha256(stored_bytes(snap.storage_key)).hexdigest() == snap.sha256
    assert services.snapshot_upload_spooled(snapshot_id=snap.pk) is False  # idempotent


def stored_bytes(key: str) -> bytes:
    with storages["evidence"].open(key, "rb") as fh:
        return bytes(fh.read())


def test_identical_spooled_frames_are_uploaded_once_and_both_marked(
    device: PhoneDevice, tmp_path: Path, settings: object
) -> None:
    settings.SNAPSHOT_SPOOL_DIR = str(tmp_path / "spool")  # type: ignore[attr-defined]
    data = images.photo_jpeg("chelsea", width=613)
    a = services.snapshot_ingest(device_id=device.pk, seq=1, data=data)
    b = services.snapshot_ingest(device_id=device.pk, seq=2, data=data)
    assert a.storage_key == b.storage_key

    assert services.snapshot_upload_spooled(snapshot_id=a.pk) is True  # takes the one spool file
    assert services.snapshot_upload_spooled(snapshot_id=b.pk) is True  # storage holds it: marked
    assert Snapshot.objects.filter(pk__in=[a.pk, b.pk], uploaded=True).count() == 2


def test_a_frame_in_no_visible_spool_and_not_in_storage_is_not_marked_uploaded(
    device: PhoneDevice, tmp_path: Path, settings: object
) -> None:
    settings.SNAPSHOT_SPOOL_DIR = str(tmp_path / "spool")  # type: ignore[attr-defined]
    snap = services.snapshot_ingest(device_id=device.pk, seq=1, data=images.photo_jpeg("chelsea", width=617))
    (tmp_path / "spool" / snap.storage_key).unlink()  # as a worker on another host sees it

    with pytest.raises(storage.SpoolNotVisible):
        services.snapshot_upload_spooled(snapshot_id=snap.pk)
    snap.refresh_from_db()
    assert snap.uploaded is False


def test_audio_levels_are_clamped_stored_compactly_and_idempotent(device: PhoneDevice) -> None:
    batch = services.audio_ingest(
        device_id=device.pk, seq=3, interval_ms=100, levels=[-200.0, -55.4, 3.0, -0.4]
    )
    assert bytes(batch.levels) == bytes([256 - 127, 256 - 55, 0, 0])
    again = services.audio_ingest(device_id=device.pk, seq=3, interval_ms=100, levels=[-10.0])
    assert again.pk == batch.pk and bytes(again.levels) == bytes(batch.levels)
    assert AudioBatch.objects.count() == 1


@pytest.mark.parametrize(
    ("interval_ms", "levels", "field"),
    [
        (0, [-50.0], "interval_ms"),
        (100, [], "levels"),
        (100, [-50.0] * 601, "levels"),
        (100, ["x"], "levels"),
    ],
)
def test_invalid_audio_batches_are_refused(
    device: PhoneDevice, interval_ms: int, levels: list[Any], field: str
) -> None:
    with pytest.raises(errors.AudioRejected) as caught:
        services.audio_ingest(device_id=device.pk, seq=1, interval_ms=interval_ms, levels=levels)
    assert caught.value.code == "audio_invalid"
    assert caught.value.extra["field"] == field
    assert AudioBatch.objects.count() == 0
