"""The whole per-frame report: every check with its score, threshold, verdict and bilingual reason.

Pure: image (bytes or ndarray) + thresholds + an injected detector + the signatures of previous
frames and of the reference frame in; a frozen ``FrameReport`` out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from . import quality, temporal
from .detectors import Detection, PersonDetector, detector_create
from .image import Image, decode, downscale, to_gray
from .messages import ALL_GOOD, GUIDANCE, REASONS

ANALYZER_VERSION = "2026.11-2"


@dataclass(frozen=True)
class Thresholds:
    """Every number a verdict depends on (settings MEDIA_CHECK_THRESHOLDS override any of them)."""

    analysis_width: int = 320
    too_dark_mean: float = 45.0  # mean luma below this = too dark
    overexposed_bright_fraction: float = 0.3  # share of blown-out pixels above this ...
    overexposed_rest_luma: float = 100.0  # ... while the rest is bright too = overexposed
    backlit_bright_fraction: float = 0.12  # a blown-out background at least this large ...
    backlit_subject_luma: float = 75.0  # ... behind a subject (face, else the rest) darker than this
    blur_sharpness: float = 1000.0  # stretched Laplacian variance below this = blurred
    blocked_std: float = 40.0  # a smooth picture (a finger lets a gradient of light through) ...
    blocked_edge_density: float = 0.02  # ... with almost no edges even at low contrast = lens covered
    head_top_margin: float = 0.25  # face heights of picture needed above the face box (hair, crown)
    chest_margin: float = 1.0  # face heights of picture needed below the chin (shoulders, chest)
    desk_margin: float = 1.8  # face heights below the chin before the desk band starts
    desk_min_band: float = 0.12  # the desk band must be at least this share of the picture height
    desk_horizontal: float = 0.55  # share of gradient energy from horizontal lines in the desk band
    frozen_mad: float = 0.6  # mean abs difference of 48x36 thumbnails below this = unchanged
    frozen_frames: int = 2  # unchanged against this many previous frames = frozen
    drift_similarity: float = 0.55  # edge-map correlation with the reference below this = drift

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> Thresholds:
        if not values:
            return cls()
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown thresholds: {sorted(unknown)}")
        return replace(cls(), **values)


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool  # the frame passes this check
    value: bool | int | str  # the reported property (e.g. too_dark=True, person_count=2)
    score: float
    threshold: float
    reason: dict[str, str]  # why it failed (or "meets the requirements"), zh + en
    guidance: dict[str, str] | None  # what the candidate should do, when it failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "value": self.value,
            "score": round(self.score, 4),
            "threshold": self.threshold,
            "reason": self.reason,
            "guidance": self.guidance,
        }


@dataclass(frozen=True)
class FrameReport:
    checks: dict[str, CheckResult]
    person_count: int
    detections: tuple[Detection, ...]
    signature: temporal.Signature
    width: int
    height: int
    orientation: str
    duration_ms: float
    analyzer_version: str = ANALYZER_VERSION
    detector: str = ""
    failing: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.failing

    def flag(self, name: str) -> bool:
        return bool(self.checks[name].value)

    def guidance(self) -> list[dict[str, str]]:
        return [g for name in self.failing if (g := self.checks[name].guidance) is not None]

    def as_dict(self) -> dict[str, Any]:
        """The JSON stored in FrameAnalysis.report and pushed to the phone and the proctors."""
        return {
            "analyzer_version": self.analyzer_version,
            "detector": self.detector,
            "passed": self.passed,
            "failing": list(self.failing),
            "person_count": self.person_count,
            "orientation": self.orientation,
            "width": self.width,
            "height": self.height,
            "duration_ms": round(self.duration_ms, 2),
            "checks": {name: c.as_dict() for name, c in self.checks.items()},
            "guidance": self.guidance() or [ALL_GOOD.as_dict()],
            "detections": [
                {"kind": d.kind, "x": d.box.x, "y": d.box.y, "w": d.box.w, "h": d.box.h}
                for d in self.detections
            ],
            "signature": self.signature.to_json(),
        }

    def summary(self) -> dict[str, Any]:
        """Flat booleans and scores (check_framing --json, evaluation)."""
        out: dict[str, Any] = {"person_count": self.person_count}
        for name, c in self.checks.items():
            if name == "person_count":
                out["person_score"] = round(c.score, 4)
                continue
            out[name] = c.value
            out[f"{name}_score"] = round(c.score, 4)
        return out


_DEFAULT_DETECTOR: PersonDetector | None = None


def default_detector() -> PersonDetector:
    global _DEFAULT_DETECTOR
    if _DEFAULT_DETECTOR is None:
        _DEFAULT_DETECTOR = detector_create("auto")
    return _DEFAULT_DETECTOR


def _check(
    name: str, *, ok: bool, value: bool | int | str, score: float, threshold: float, reason_key: str
) -> CheckResult:
    reason = (ALL_GOOD if ok else REASONS[reason_key]).as_dict()
    guidance = None if ok else GUIDANCE[reason_key].as_dict()
    return CheckResult(name, ok, value, float(score), float(threshold), reason, guidance)


def analyse_frame(
    image: bytes | Image,
    *,
    thresholds: Thresholds | None = None,
    detector: PersonDetector | None = None,
    previous: list[temporal.Signature] | tuple[temporal.Signature, ...] = (),
    reference: temporal.Signature | None = None,
) -> FrameReport:
    """Analyse one frame. ``previous``: signatures of this device's last frames, newest first;
    ``reference``: the approved reference frame's signature (scene drift is checked only with one)."""
    started = time.perf_counter()
    t = thresholds or Thresholds()
    det = detector or default_detector()
    if isinstance(image, bytes | bytearray | memoryview):
        img = decode(bytes(image), analysis_width=t.analysis_width)
    else:
        img = downscale(np.ascontiguousarray(image), width=t.analysis_width)
    gray = to_gray(img)
    h, w = gray.shape[:2]

    checks: dict[str, CheckResult] = {}

    # --- people -----------------------------------------------------------------------------
    detections = tuple(det.detect(gray, img))
    count = len(detections)
    checks["person_count"] = _check(
        "person_count",
        ok=count == 1,
        value=min(count, 2),
        score=max((d.score for d in detections), default=0.0),
        threshold=1,
        reason_key="no_person" if count == 0 else "multiple_people",
    )
    primary = max(detections, key=lambda d: d.box.area) if detections else None

    # --- framing geometry, measured in face heights from the primary face -----------------------
    if primary is not None:
        b = primary.box
        head_score = b.y / b.h
        chest_score = (h - (b.y + b.h)) / b.h
    else:
        head_score = chest_score = -1.0  # unknown: no head to measure from
    checks["head_top_visible"] = _check(
        "head_top_visible",
        ok=head_score >= t.head_top_margin,
        value=head_score >= t.head_top_margin,
        score=head_score,
        threshold=t.head_top_margin,
        reason_key="head_cut" if primary is not None else "no_person",
    )
    checks["chest_visible"] = _check(
        "chest_visible",
        ok=chest_score >= t.chest_margin,
        value=chest_score >= t.chest_margin,
        score=chest_score,
        threshold=t.chest_margin,
        reason_key="chest_cut" if primary is not None else "no_person",
    )

    # Desk: the band below where the candidate's chest ends (or the lower third without a face)
    # must exist and be dominated by horizontal structure (the desk edge, a keyboard, paper).
    if primary is not None:
        band_top = int(primary.box.y + primary.box.h * (1 + t.desk_margin))
    else:
        band_top = int(h * 2 / 3)
    band_share = max(0.0, (h - band_top) / h)
    horizontal = quality.horizontal_structure(gray[band_top:, :]) if band_share >= t.desk_min_band else 0.0
    desk = band_share >= t.desk_min_band and horizontal >= t.desk_horizontal
    checks["desk_visible"] = _check(
        "desk_visible",
        ok=desk,
        value=desk,
        score=horizontal,
        threshold=t.desk_horizontal,
        reason_key="desk_missing",
    )

    # --- exposure -------------------------------------------------------------------------------
    exp = quality.exposure(gray)
    too_dark = exp.mean < t.too_dark_mean
    checks["too_dark"] = _check(
        "too_dark",
        ok=not too_dark,
        value=too_dark,
        score=exp.mean,
        threshold=t.too_dark_mean,
        reason_key="too_dark",
    )
    over = (
        exp.bright_fraction > t.overexposed_bright_fraction and exp.dark_rest_mean >= t.overexposed_rest_luma
    )
    checks["overexposed"] = _check(
        "overexposed",
        ok=not over,
        value=over,
        score=exp.bright_fraction,
        threshold=t.overexposed_bright_fraction,
        reason_key="overexposed",
    )
    if primary is not None:
        b = primary.box
        subject_luma = float(gray[b.y : b.y + b.h, b.x : b.x + b.w].mean())
    else:
        subject_luma = exp.dark_rest_mean
    backlit = (
        exp.bright_fraction >= t.backlit_bright_fraction
        and subject_luma < t.backlit_subject_luma
        and not over
    )
    checks["backlit"] = _check(
        "backlit",
        ok=not backlit,
        value=backlit,
        # the subject's luma is the deciding number; the blown-out share is the precondition
        score=subject_luma if exp.bright_fraction >= t.backlit_bright_fraction else 255.0,
        threshold=t.backlit_subject_luma,
        reason_key="backlit",
    )

    # --- lens covered, blur ----------------------------------------------------------------------
    tex = quality.texture(gray)
    blocked = tex.std < t.blocked_std and tex.edge_density < t.blocked_edge_density
    checks["blocked"] = _check(
        "blocked", ok=not blocked, value=blocked, score=tex.std, threshold=t.blocked_std, reason_key="blocked"
    )
    sharp = quality.sharpness(gray)
    blurred = sharp < t.blur_sharpness and not blocked  # a covered lens is reported as covered
    checks["blurred"] = _check(
        "blurred",
        ok=not blurred,
        value=blurred,
        score=sharp,
        threshold=t.blur_sharpness,
        reason_key="blurred",
    )

    # --- frozen feed, scene drift ----------------------------------------------------------------
    sig = temporal.signature(gray)
    recent = list(previous)[: t.frozen_frames]
    diffs = [temporal.mean_abs_difference(sig, p) for p in recent]
    frozen = len(diffs) >= t.frozen_frames and max(diffs) < t.frozen_mad
    checks["frozen"] = _check(
        "frozen",
        ok=not frozen,
        value=frozen,
        score=max(diffs) if diffs else 255.0,
        threshold=t.frozen_mad,
        reason_key="frozen",
    )
    if reference is not None:
        similarity = temporal.scene_similarity(reference, sig)
        drift = similarity < t.drift_similarity
        checks["scene_drift"] = _check(
            "scene_drift",
            ok=not drift,
            value=drift,
            score=similarity,
            threshold=t.drift_similarity,
            reason_key="scene_drift",
        )

    orientation = "landscape" if w > h else "portrait" if h > w else "square"
    checks["orientation"] = _check(
        "orientation", ok=True, value=orientation, score=w / h, threshold=1.0, reason_key="orientation"
    )

    failing = tuple(name for name, c in checks.items() if not c.ok)
    return FrameReport(
        checks=checks,
        person_count=min(count, 2),
        detections=detections,
        signature=sig,
        width=w,
        height=h,
        orientation=orientation,
        duration_ms=(time.perf_counter() - started) * 1000,
        detector=det.name,
        failing=failing,
    )
