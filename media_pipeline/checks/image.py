"""Decoding and downscaling for the checks (numpy/cv2 only)."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

# uint8 BGR or grayscale; typed loosely because OpenCV's stubs return a union of dtypes.
Image = np.ndarray[Any, Any]


class UndecodableImage(ValueError):
    """The bytes are not an image OpenCV can decode."""


def decode(data: bytes, *, analysis_width: int) -> Image:
    """Decode JPEG/PNG bytes to a BGR image about ``analysis_width`` wide.

    A 640-px JPEG is decoded at half size by the codec itself (DCT scaling), which is several
    times faster than a full decode followed by a resize.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_REDUCED_COLOR_2)
    if img is None or img.size == 0:
        raise UndecodableImage("cannot decode image")
    if img.shape[1] < analysis_width:
        full = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        if full is not None:
            img = full
    return downscale(img, width=analysis_width)


def downscale(img: Image, *, width: int) -> Image:
    h, w = img.shape[:2]
    if w <= width:
        return img
    height = max(1, round(h * width / w))
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)


def to_gray(img: Image) -> Image:
    if img.ndim == 2:
        return img
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
