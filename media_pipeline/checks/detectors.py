"""Person detectors behind one interface (``PersonDetector``), injected into the checks.

Two ship inside registry wheels (no download at run time):

- ``YuNetDetector`` (default when importable): the libfacedetection YuNet CNN compiled into the
  ``yuface`` wheel. Pose tolerant (three-quarter views, a face half hidden behind a camera), about
  4 ms on a 240-px-wide copy on one core. ``yuface`` publishes a cp311 wheel only, so it is an
  optional dependency: when it cannot be imported the Haar detector is used.
- ``HaarPersonDetector`` (fallback, inside opencv-python-headless 4.x): frontal faces, and profile
  faces in both directions only when no frontal face was found.

Faces are the anchor for the framing geometry (top of head, chest, desk). Both return boxes with
the top near the brow line and the bottom at the chin, so the thresholds in face heights hold for
both (measured on the evaluation set). A head seen from behind is not a face: see
``docs/media_pipeline.md`` for what covers that case.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import cv2
import numpy as np

from .image import Image


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        return self.w * self.h

    def iou(self, other: Box) -> float:
        x1, y1 = max(self.x, other.x), max(self.y, other.y)
        x2 = min(self.x + self.w, other.x + other.w)
        y2 = min(self.y + self.h, other.y + other.h)
        inter = max(0, x2 - x1) * max(0, y2 - y1)
        union = self.area + other.area - inter
        return inter / union if union else 0.0

    def contains_center_of(self, other: Box) -> bool:
        cx, cy = other.x + other.w / 2, other.y + other.h / 2
        return self.x <= cx <= self.x + self.w and self.y <= cy <= self.y + self.h

    def scaled(self, factor: float) -> Box:
        return Box(
            round(self.x * factor), round(self.y * factor), round(self.w * factor), round(self.h * factor)
        )


@dataclass(frozen=True)
class Detection:
    """A head/face found in the analysed image; ``kind`` names the signal."""

    box: Box
    kind: str  # "frontal", "profile_left", "profile_right", "yunet", ...
    score: float  # detector confidence, comparable within one detector only


class PersonDetector(Protocol):
    name: str

    def detect(self, gray: Image, bgr: Image) -> list[Detection]:
        """Heads/faces, one per person (duplicates merged), in the coordinates of ``gray``.

        ``gray`` and ``bgr`` are the same analysis-size frame (decoded once by the caller);
        a detector uses whichever it needs."""
        ...


def merge_detections(detections: list[Detection]) -> list[Detection]:
    """Greedy non-maximum suppression across signals: one detection per head."""
    kept: list[Detection] = []
    for det in sorted(detections, key=lambda d: (d.score, d.box.area), reverse=True):
        if any(
            det.box.iou(k.box) > 0.25
            or k.box.contains_center_of(det.box)
            or det.box.contains_center_of(k.box)
            for k in kept
        ):
            continue
        kept.append(det)
    return kept


def _shrink(img: Image, width: int) -> tuple[Image, float]:
    """A copy at most ``width`` wide and the factor that maps its coordinates back."""
    if img.shape[1] <= width:
        return img, 1.0
    scale = img.shape[1] / width
    height = max(1, round(img.shape[0] / scale))
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA), scale


class YuNetDetector:
    """YuNet (libfacedetection) from the ``yuface`` wheel, on a ``detect_width``-wide colour copy.

    240 px: a face of 9 % of the picture's short side is still 16 px there, above YuNet's
    smallest anchor (10 px); narrower copies were faster but lost the small second face of the
    background composite at lower confidence (docs/media_pipeline.md has the measurements).
    """

    name = "yunet"

    def __init__(
        self,
        *,
        detect_width: int = 240,
        min_confidence: float = 0.6,
        min_face_fraction: float = 0.06,
    ) -> None:
        self.detect_width = detect_width
        self.min_confidence = min_confidence
        self.min_face_fraction = min_face_fraction
        self._yuface = _import_yuface()

    def detect(self, gray: Image, bgr: Image) -> list[Detection]:
        colour = bgr if bgr.ndim == 3 else cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
        small, scale = _shrink(np.ascontiguousarray(colour), self.detect_width)
        confs, boxes, _landmarks = self._yuface.detect(small, conf=self.min_confidence)
        min_px = min(small.shape[:2]) * self.min_face_fraction
        height, width = small.shape[:2]
        found = []
        for c, (x, y, w, h) in zip(np.ravel(confs), np.reshape(boxes, (-1, 4)).astype(int), strict=False):
            # A face at the border comes back partly outside the picture (negative x/y): keep
            # the visible part, so "y == 0" reads as "the forehead is cut".
            x0, y0 = max(0, x), max(0, y)
            x1, y1 = min(width, x + w), min(height, y + h)
            if min(x1 - x0, y1 - y0) < min_px:
                continue
            found.append(Detection(Box(x0, y0, x1 - x0, y1 - y0).scaled(scale), "yunet", float(c) / 100.0))
        return merge_detections(found)


def _import_yuface() -> Any:
    # yuface runs its CNN on OpenMP threads; in a worker process (one analysis per process) extra
    # threads only spin: measured 32 ms CPU with the default pool vs 10 ms with one thread (240 px). The
    # variable must be set before its bundled libgomp loads; an explicit setting wins.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import yuface  # type: ignore[import-not-found, unused-ignore]

    return yuface


class HaarPersonDetector:
    """OpenCV Haar cascades: frontal face, then profile faces (original and mirrored)."""

    name = "haar-frontal-profile"

    def __init__(
        self,
        *,
        detect_width: int = 240,
        min_face_fraction: float = 0.09,
        max_face_fraction: float = 0.8,
        scale_factor: float = 1.2,
        min_neighbors: int = 4,
        profile_min_neighbors: int = 5,
    ) -> None:
        self.detect_width = detect_width
        self.min_face_fraction = min_face_fraction
        self.max_face_fraction = max_face_fraction
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.profile_min_neighbors = profile_min_neighbors

    @cached_property
    def _frontal(self) -> cv2.CascadeClassifier:
        return _cascade("haarcascade_frontalface_alt2.xml")

    @cached_property
    def _profile(self) -> cv2.CascadeClassifier:
        return _cascade("haarcascade_profileface.xml")

    def _run(self, cascade: cv2.CascadeClassifier, gray: Image, neighbors: int) -> list[tuple[Box, float]]:
        h, w = gray.shape[:2]
        side = min(h, w)
        min_px = max(20, int(side * self.min_face_fraction))
        max_px = max(min_px + 1, int(side * self.max_face_fraction))
        boxes, _levels, weights = cascade.detectMultiScale3(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=neighbors,
            minSize=(min_px, min_px),
            maxSize=(max_px, max_px),
            outputRejectLevels=True,
        )
        out: list[tuple[Box, float]] = []
        for (x, y, bw, bh), weight in zip(boxes, np.ravel(weights), strict=False):
            out.append((Box(int(x), int(y), int(bw), int(bh)), float(weight)))
        return out

    def detect(self, gray: Image, bgr: Image) -> list[Detection]:
        # Cascade cost grows with pixels; a candidate's face at arm's length is large, so a
        # 240-px-wide copy keeps every face we care about (>= 9 % of the short side).
        small, scale = _shrink(gray, self.detect_width)
        found = self._detect(cv2.equalizeHist(small))
        if scale == 1.0:
            return found
        return [Detection(d.box.scaled(scale), d.kind, d.score) for d in found]

    def _detect(self, eq: Image) -> list[Detection]:
        found = [Detection(b, "frontal", s) for b, s in self._run(self._frontal, eq, self.min_neighbors)]
        if not found:
            # Profile only when no frontal face: it doubles the cost and mostly re-finds the same head.
            w = eq.shape[1]
            found += [
                Detection(b, "profile_left", s)
                for b, s in self._run(self._profile, eq, self.profile_min_neighbors)
            ]
            mirrored = cv2.flip(eq, 1)
            for b, s in self._run(self._profile, mirrored, self.profile_min_neighbors):
                found.append(Detection(Box(w - b.x - b.w, b.y, b.w, b.h), "profile_right", s))
        return merge_detections(found)


def _cascade(filename: str) -> cv2.CascadeClassifier:
    classifier = cv2.CascadeClassifier(cv2.data.haarcascades + filename)  # type: ignore[attr-defined]
    if classifier.empty():
        raise RuntimeError(f"OpenCV cascade {filename} is missing from opencv-python-headless")
    return classifier


DETECTORS = ("auto", "yunet", "haar")


def detector_create(name: str = "auto", **options: Any) -> PersonDetector:
    """``auto``: YuNet when the optional ``yuface`` wheel imports (cp311), else Haar."""
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; choose one of {DETECTORS}")
    if name in ("auto", "yunet"):
        try:
            return YuNetDetector(**options)
        except ImportError:
            if name == "yunet":
                raise
    return HaarPersonDetector(**options)
