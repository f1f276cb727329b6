"""Real photographs (from registry packages) and constructed files for the media tests."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from media_pipeline.evaluation.build import matplotlib_data, skimage_data


def photo(name: str) -> Path:
    paths = {
        "astronaut": skimage_data() / "astronaut.png",
        "camera": skimage_data() / "camera.png",
        "grace_hopper": matplotlib_data() / "grace_hopper.jpg",
        "coffee": skimage_data() / "coffee.png",
        "rocket": skimage_data() / "rocket.jpg",
        "chelsea": skimage_data() / "chelsea.png",
    }
    return paths[name]


def bgr(name: str, width: int = 640) -> np.ndarray:
    img = cv2.imread(str(photo(name)), cv2.IMREAD_COLOR)
    assert img is not None
    h, w = img.shape[:2]
    return cv2.resize(img, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)


def jpeg(img: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def photo_jpeg(name: str = "astronaut", width: int = 640) -> bytes:
    return jpeg(bgr(name, width))


def jpeg_with_exif(name: str = "astronaut", orientation: int = 6) -> bytes:
    """A JPEG carrying EXIF (camera make, GPS-like tag and an orientation)."""
    rgb = Image.fromarray(cv2.cvtColor(bgr(name, 320), cv2.COLOR_BGR2RGB))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = orientation  # Orientation: 6 = rotate 90° clockwise to display
    out = io.BytesIO()
    rgb.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def ios_png(name: str = "astronaut") -> bytes:
    """What wx.takePhoto gives on iOS: a PNG, with an alpha channel."""
    rgba = Image.fromarray(cv2.cvtColor(bgr(name, 480), cv2.COLOR_BGR2RGBA))
    out = io.BytesIO()
    rgba.save(out, format="PNG")
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def png_bomb(width: int = 5_000, height: int = 5_000, rows_in_body: int | None = None) -> bytes:
    """A small file that decodes to width × height grey pixels (a decompression bomb).
    ``rows_in_body`` < height makes a header that promises more than the body holds."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = height if rows_in_body is None else rows_in_body
    body = zlib.compress(b"\x00" * ((width + 1) * rows), 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


def png_of_size(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (width, height), 128).save(out, format="PNG")
    return out.getvalue()
