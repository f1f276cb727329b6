"""Person detectors behind one interface (``PersonDetector``), injected into the checks.

The default ships inside opencv-python-headless (no download at run time): Haar frontal faces,
and when no frontal face is found, profile faces in both directions (a phone at 45° sees a
three-quarter or side view). Faces are the anchor for the framing geometry (top of head, chest,
desk). What a face detector cannot see — a head from behind — is reported as "no person"; the
set-up guidance and the proctor's reference approval cover that case (docs/media_pipeline.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

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


@dataclass(frozen=True)
class Detection:
    """A head/face found in the analysed (downscaled) image; ``kind`` names the signal."""

    box: Box
    kind: str  # "frontal", "profile_left", "profile_right", ...
    score: float  # detector confidence, comparable within one detector only


class PersonDetector(Protocol):
    name: str

    def detect(self, gray: Image) -> list[Detection]:
        """Heads/faces in a grayscale image, one per person (duplicates already merged)."""
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

    def detect(self, gray: Image) -> list[Detection]:
        # Cascades cost grows with pixels; a candidate's face at arm's length is large, so a
        # 240-px-wide copy keeps every face we care about (>= 9 % of the short side).
        scale = 1.0
        if gray.shape[1] > self.detect_width:
            scale = gray.shape[1] / self.detect_width
            height = max(1, round(gray.shape[0] / scale))
            gray = cv2.resize(gray, (self.detect_width, height), interpolation=cv2.INTER_AREA)
        found = self._detect(cv2.equalizeHist(gray))
        if scale == 1.0:
            return found
        return [
            Detection(
                Box(
                    round(d.box.x * scale),
                    round(d.box.y * scale),
                    round(d.box.w * scale),
                    round(d.box.h * scale),
                ),
                d.kind,
                d.score,
            )
            for d in found
        ]

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
