"""Picture quality measures on a downscaled grayscale image: exposure, backlight, blur, covered lens."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .image import Image


@dataclass(frozen=True)
class Exposure:
    mean: float  # mean luma 0..255
    bright_fraction: float  # share of pixels >= 235 (blown out)
    dark_rest_mean: float  # mean luma of the pixels that are not blown out
    p50: float


def exposure(gray: Image) -> Exposure:
    hist = cv2.calcHist([gray], [0], None, [256], [0, 256]).ravel()
    total = float(hist.sum()) or 1.0
    levels = np.arange(256, dtype=np.float64)
    mean = float((hist * levels).sum() / total)
    bright = float(hist[235:].sum() / total)
    rest = hist[:235]
    rest_total = float(rest.sum())
    rest_mean = float((rest * levels[:235]).sum() / rest_total) if rest_total else 0.0
    cdf = np.cumsum(hist) / total
    p50 = float(np.searchsorted(cdf, 0.5))
    return Exposure(mean=mean, bright_fraction=bright, dark_rest_mean=rest_mean, p50=p50)


def sharpness(gray: Image) -> float:
    """Variance of the Laplacian after stretching contrast to the 2nd..98th percentile.

    Stretching first keeps a dim but sharp picture from reading as blurred (the raw Laplacian
    variance scales with contrast squared).
    """
    lo, hi = np.percentile(gray, (2, 98))
    if hi - lo < 1:
        return 0.0
    stretched = np.clip((gray.astype(np.float32) - np.float32(lo)) * np.float32(255.0 / (hi - lo)), 0, 255)
    stretched = stretched.astype(np.float32)
    return float(cv2.Laplacian(stretched, cv2.CV_32F, ksize=3).var())


@dataclass(frozen=True)
class Texture:
    std: float  # luma standard deviation
    edge_density: float  # share of Canny edge pixels


def texture(gray: Image) -> Texture:
    """Low Canny thresholds on a half-size copy: a dark room still has edges (weak ones), a
    covered lens has none, only a smooth gradient and sensor noise (averaged away by the resize)."""
    std = float(gray.std())
    small = cv2.resize(
        gray, (max(1, gray.shape[1] // 2), max(1, gray.shape[0] // 2)), interpolation=cv2.INTER_AREA
    )
    edges = cv2.Canny(small, 10, 30)
    return Texture(std=std, edge_density=float(np.count_nonzero(edges)) / edges.size)


def horizontal_structure(gray: Image) -> float:
    """Share of gradient energy that is vertical (i.e. from horizontal lines such as a desk edge)."""
    if gray.shape[0] < 3 or gray.shape[1] < 3:
        return 0.0
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    ex, ey = float(np.abs(gx).sum()), float(np.abs(gy).sum())
    return ey / (ex + ey) if ex + ey > 0 else 0.0
