"""The two normalisation paths of media_pipeline.imaging: metadata cut out of an upright JPEG with
its image data kept byte for byte, everything else decoded and re-encoded upright."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from media_pipeline import errors, imaging
from tests.media_pipeline import images

LIMITS = {"max_bytes": 2_000_000, "max_pixels": 40_000_000, "max_side": 8000, "min_side": 64}


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def pillow_jpeg(img: Image.Image, **save: object) -> bytes:
    out = io.BytesIO()
    img.save(out, format="JPEG", **save)
    return out.getvalue()


def test_a_clean_jpeg_is_kept_byte_for_byte() -> None:
    data = images.photo_jpeg("astronaut", 640)  # what canvas.toBlob / takePhoto send: JFIF, no EXIF

    valid = imaging.image_validate(data, **LIMITS)

    assert valid.reencoded is False
    assert valid.data == data
    assert (valid.width, valid.height) == Image.open(io.BytesIO(data)).size


def test_exif_xmp_comments_and_trailing_bytes_are_cut_out_and_the_pixels_are_unchanged() -> None:
    base = Image.open(io.BytesIO(images.photo_jpeg("grace_hopper", 500)))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 1  # upright
    xmp = b"<x:xmpmeta>GPSLatitude 31.2304</x:xmpmeta>"
    data = pillow_jpeg(base, exif=exif.tobytes(), comment=b"candidate 3201", xmp=xmp) + b"MOTION-PHOTO-TAIL"
    assert b"PhoneMaker" in data and b"GPSLatitude" in data

    valid = imaging.image_validate(data, **LIMITS)

    assert valid.reencoded is False
    for secret in (b"Exif", b"PhoneMaker", b"GPSLatitude", b"candidate 3201", b"MOTION-PHOTO-TAIL"):
        assert secret not in valid.data
    assert len(Image.open(io.BytesIO(valid.data)).getexif()) == 0
    assert np.array_equal(pixels(valid.data), pixels(data))  # the compressed image data is untouched
    assert valid.data.endswith(b"\xff\xd9")


def test_a_progressive_jpeg_keeps_every_scan() -> None:
    data = pillow_jpeg(Image.open(io.BytesIO(images.photo_jpeg("coffee", 600))), progressive=True)

    valid = imaging.image_validate(data + b"\x00" * 32, **LIMITS)

    assert valid.reencoded is False
    assert valid.data == data


def test_a_rotated_jpeg_is_decoded_turned_upright_and_re_encoded() -> None:
    data = images.jpeg_with_exif("grace_hopper", orientation=6)  # portrait sensor, rotate 90°
    w, h = Image.open(io.BytesIO(data)).size

    valid = imaging.image_validate(data, **LIMITS)

    assert valid.reencoded is True
    assert (valid.width, valid.height) == (h, w)
    assert b"PhoneMaker" not in valid.data


@pytest.mark.parametrize("mode", ["CMYK"])
def test_other_colour_modes_are_re_encoded_as_rgb(mode: str) -> None:
    data = pillow_jpeg(Image.open(io.BytesIO(images.photo_jpeg("chelsea", 400))).convert(mode))

    valid = imaging.image_validate(data, **LIMITS)

    assert valid.reencoded is True
    assert Image.open(io.BytesIO(valid.data)).mode == "RGB"


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda d: d[: len(d) // 2], id="cut-in-the-scan"),
        pytest.param(lambda d: d[:-2], id="no-end-marker"),
        pytest.param(lambda d: d[:4] + b"\xff\xff" + d[6:], id="segment-length-past-the-end"),
        pytest.param(lambda d: d[:20] + b"\x00\x00\x00\x00" + d[24:], id="garbage-between-segments"),
    ],
)
def test_a_damaged_jpeg_is_refused_as_corrupt(damage: object) -> None:
    data = images.photo_jpeg("astronaut", 640)

    with pytest.raises(errors.ImageCorrupt):
        imaging.image_validate(damage(data), **LIMITS)  # type: ignore[operator]


def test_the_stripper_refuses_what_is_not_a_jpeg_structure() -> None:
    with pytest.raises(ValueError):
        imaging.jpeg_strip_metadata(b"\xff\xd8\xff\xe0\x00\x10JFIF")  # ends inside the headers
    with pytest.raises(ValueError):
        imaging.jpeg_strip_metadata(b"not a jpeg")
