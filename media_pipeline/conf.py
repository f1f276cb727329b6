"""Settings of the media pipeline, with defaults (any of them can be set in Django settings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from .audio import AudioThresholds
from .checks import PersonDetector, Thresholds, detector_create

DEFAULTS: dict[str, Any] = {
    "SNAPSHOT_MAX_BYTES": 1_048_576,
    "SNAPSHOT_MAX_PIXELS": 4096 * 4096,
    "SNAPSHOT_MAX_SIDE": 4096,  # width or height
    "SNAPSHOT_MIN_SIDE": 64,
    "SNAPSHOT_JPEG_QUALITY": 85,  # when re-encoding (PNG, rotated, CMYK): media_pipeline.imaging
    "SNAPSHOT_SPOOL_DIR": "",  # production: written here first (fsync), uploaded to S3 from here
    # The beat sweep (media.snapshot_sweep) re-queues frames still not analysed or not uploaded this
    # long after they were stored: a process that died between its commit and its Celery publish.
    "MEDIA_SNAPSHOT_SWEEP_AFTER_S": 600,
    "S3_SERVER_SIDE_ENCRYPTION": None,  # e.g. "AES256" or "aws:kms"; empty = none requested
    "SNAPSHOT_IMAGE_REDIRECT": True,  # S3: proctors get a presigned URL instead of a proxied body
    "SNAPSHOT_IMAGE_URL_TTL_S": 60,  # lifetime of that URL
    "SNAPSHOT_THUMBNAIL_WIDTH": 320,
    "SNAPSHOT_THUMBNAIL_AUDIT_WINDOW_S": 600,  # one audit entry per proctor and attempt per window
    "MEDIA_DETECTOR": "auto",  # auto (YuNet when yuface is installed, else Haar), yunet, haar
    "MEDIA_CHECK_THRESHOLDS": {},  # overrides of media_pipeline.checks.Thresholds fields
    "MEDIA_AUDIO_THRESHOLDS": {},  # overrides of media_pipeline.audio.AudioThresholds fields
    "MEDIA_PREVIOUS_FRAMES": 3,  # frames of the same device the frozen check compares against
    "MEDIA_REFERENCE_AUTO_FRAMES": 3,  # consecutive all-pass frames that approve a reference frame
    "MEDIA_ANALYSIS_FAULT_DELAY_S": 0.0,  # fault injection for the redelivery test only; 0 elsewhere
}


def get(name: str) -> Any:
    value = getattr(settings, name, None)
    return DEFAULTS[name] if value is None or value == "" else value


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pixels: int
    max_side: int
    min_side: int


def limits() -> Limits:
    return Limits(
        max_bytes=int(get("SNAPSHOT_MAX_BYTES")),
        max_pixels=int(get("SNAPSHOT_MAX_PIXELS")),
        max_side=int(get("SNAPSHOT_MAX_SIDE")),
        min_side=int(get("SNAPSHOT_MIN_SIDE")),
    )


def thresholds() -> Thresholds:
    return Thresholds.from_mapping(dict(get("MEDIA_CHECK_THRESHOLDS")))


def audio_thresholds() -> AudioThresholds:
    return AudioThresholds.from_mapping(dict(get("MEDIA_AUDIO_THRESHOLDS")))


_DETECTORS: dict[str, PersonDetector] = {}


def detector() -> PersonDetector:
    """The configured detector, built once per process (models load on first use)."""
    name = str(get("MEDIA_DETECTOR"))
    if name not in _DETECTORS:
        _DETECTORS[name] = detector_create(name)
    return _DETECTORS[name]
