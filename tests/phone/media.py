"""Fake camera and microphone for Chromium, built at test time (never committed).

Video: a .y4m (YUV 4:2:0) made from a real photograph that ships inside a registry package
(scikit-image's astronaut.png: one person, chest up; or matplotlib's grace_hopper.jpg), with a
small drift between frames so it is a moving picture, not a still. Chromium loops the file.
Audio: a 16-bit mono .wav of a tone with a known RMS level (dBFS), so the levels the page computes
with Web Audio can be checked against what was fed in.
"""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np
from PIL import Image

WIDTH, HEIGHT = 640, 480


def photo(name: str = "astronaut") -> Image.Image:
    if name == "astronaut":
        import skimage

        path = Path(skimage.__file__).parent / "data" / "astronaut.png"
    elif name == "grace_hopper":
        import matplotlib

        path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    else:
        raise ValueError(name)
    return Image.open(path).convert("RGB")


def _fit(image: Image.Image, width: int, height: int, zoom: float) -> Image.Image:
    """Scale to cover width×height (times ``zoom``), centre-crop."""
    scale = max(width / image.width, height / image.height) * zoom
    resized = image.resize(
        (round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS
    )
    left = (resized.width - width) // 2
    top = (resized.height - height) // 2
    return resized.crop((left, top, left + width, top + height))


def _yuv420(image: Image.Image) -> bytes:
    """BT.601 full-range RGB → I420 planes (what y4m C420jpeg carries)."""
    rgb = np.asarray(image, dtype=np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
    v = 0.5 * r - 0.418688 * g - 0.081312 * b + 128

    def sub(plane: np.ndarray) -> np.ndarray:
        return plane.reshape(plane.shape[0] // 2, 2, plane.shape[1] // 2, 2).mean(axis=(1, 3))

    planes = [y, sub(u), sub(v)]
    return b"".join(np.clip(p, 0, 255).round().astype(np.uint8).tobytes() for p in planes)


def write_y4m(path: Path, *, photo_name: str = "astronaut", frames: int = 10, fps: int = 5) -> Path:
    image = photo(photo_name)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(frames):
            zoom = 1.0 + 0.01 * math.sin(2 * math.pi * i / frames)  # a little movement
            out.write(b"FRAME\n")
            out.write(_yuv420(_fit(image, WIDTH, HEIGHT, zoom)))
    return path


def write_wav(path: Path, *, rms_dbfs: float = -20.0, seconds: float = 2.0, rate: int = 48_000) -> Path:
    """A 440 Hz tone whose RMS is ``rms_dbfs`` (a sine's RMS is its amplitude / √2)."""
    amplitude = 10 ** (rms_dbfs / 20) * math.sqrt(2)
    t = np.arange(int(seconds * rate)) / rate
    samples = (amplitude * np.sin(2 * math.pi * 440 * t) * 32767).round().astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path
