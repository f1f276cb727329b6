"""Comparisons across frames: frozen feed (against the last frames) and scene drift (against the
approved reference frame). Each frame is reduced to a small signature stored with its report."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import cv2
import numpy as np

from .image import Image

THUMB_SIZE = (48, 36)  # width, height


@dataclass(frozen=True)
class Signature:
    thumb: bytes  # 48x36 grayscale, row-major uint8
    dhash: int  # 64-bit difference hash

    def to_json(self) -> dict[str, str]:
        return {"thumb": base64.b64encode(self.thumb).decode(), "dhash": f"{self.dhash:016x}"}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> Signature:
        return cls(thumb=base64.b64decode(data["thumb"]), dhash=int(data["dhash"], 16))

    def array(self) -> np.ndarray:
        return np.frombuffer(self.thumb, dtype=np.uint8).reshape(THUMB_SIZE[1], THUMB_SIZE[0])


def signature(gray: Image) -> Signature:
    thumb = cv2.resize(gray, THUMB_SIZE, interpolation=cv2.INTER_AREA)
    small = cv2.resize(gray, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    dhash = 0
    for bit in bits:
        dhash = (dhash << 1) | int(bit)
    return Signature(thumb=thumb.tobytes(), dhash=dhash)


def mean_abs_difference(a: Signature, b: Signature) -> float:
    return float(np.abs(a.array().astype(np.int16) - b.array().astype(np.int16)).mean())


def scene_similarity(reference: Signature, current: Signature) -> float:
    """Normalised cross-correlation of the edge maps of the two thumbnails (1 = same view).

    Edges rather than raw luma: a lamp switched on changes brightness, not where the walls and
    the desk are; a moved, fallen or rotated phone moves every edge.
    """
    ea, eb = _edges(reference.array()), _edges(current.array())
    ea, eb = ea - ea.mean(), eb - eb.mean()
    denom = float(np.sqrt((ea * ea).sum() * (eb * eb).sum()))
    if denom == 0:
        return 0.0
    return float((ea * eb).sum() / denom)


def _edges(thumb: np.ndarray) -> np.ndarray:
    blurred = cv2.GaussianBlur(thumb.astype(np.float32), (3, 3), 0)
    gx = cv2.Sobel(blurred, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(blurred, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.GaussianBlur(cv2.magnitude(gx, gy), (5, 5), 0)
