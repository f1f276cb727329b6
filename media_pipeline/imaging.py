"""Validation and normalisation of an uploaded snapshot (Pillow; no Django).

Order matters: the signature and the header's dimensions are checked before any pixel is decoded,
so a decompression bomb is refused without allocating it; then every byte of the compressed image
is decoded (a truncated or corrupt file fails here) and no metadata is kept.

Two ways to drop the metadata. An upright RGB or greyscale JPEG (what the phone page and most
mini-program cameras send) keeps its compressed image data byte for byte: the metadata segments
(EXIF with GPS and the camera, XMP, ICC, comments) and anything after the end-of-image marker are
cut out, and it is decoded at 1/8 scale to prove it is whole (libjpeg's DCT scaling still reads
every coefficient). That costs ~1 ms where decoding and re-encoding cost ~5 ms, on the ASGI
server's one core, for every frame. Anything else — a PNG, a JPEG whose EXIF orientation asks for
a rotation, CMYK — is decoded in full, turned upright and re-encoded.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

from . import errors

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EXIF_ORIENTATION = 0x0112

# Segments kept in a stripped JPEG: everything that decoding needs (frame, tables, scans, restart
# interval) plus APP0 (JFIF: pixel density) and APP14 (Adobe: the colour transform, which changes
# how the pixels decode). Every other APPn (EXIF, XMP, ICC, MPF, maker notes) and COM is dropped.
_KEPT_APP_MARKERS = {0xE0, 0xEE}
_EOI, _SOS, _COM = 0xD9, 0xDA, 0xFE
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RST0-7: no length field


@dataclass(frozen=True)
class ValidImage:
    data: bytes  # a JPEG with no metadata
    width: int
    height: int
    source_format: str  # "JPEG" or "PNG"
    content_type: str = "image/jpeg"
    reencoded: bool = True  # False: the phone's compressed data kept, metadata cut out


def jpeg_strip_metadata(data: bytes) -> bytes:
    """The JPEG without metadata segments or trailing bytes; the image data is untouched.

    Walks the marker structure (ITU T.81 B.1): segments carry a 2-byte length; inside entropy-coded
    data a 0xFF is followed by 0x00 (stuffing) or a restart marker, so the next other marker ends
    the scan. Raises ValueError on a structure that does not parse (the caller reports it corrupt).
    """
    view = memoryview(data)
    if data[:2] != b"\xff\xd8":
        raise ValueError("no SOI")
    out = [b"\xff\xd8"]
    pos, end = 2, len(data)
    while True:
        if pos + 1 >= end or data[pos] != 0xFF:
            raise ValueError("marker expected")
        while pos + 1 < end and data[pos + 1] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos + 1 >= end:
            raise ValueError("truncated marker")
        marker = data[pos + 1]
        if marker == _EOI:
            out.append(b"\xff\xd9")  # anything after the end of the image is dropped
            return b"".join(out)
        if marker in _STANDALONE:
            out.append(view[pos : pos + 2])
            pos += 2
            continue
        if pos + 4 > end:
            raise ValueError("truncated segment")
        (length,) = struct.unpack_from(">H", data, pos + 2)
        seg_end = pos + 2 + length
        if length < 2 or seg_end > end:
            raise ValueError("bad segment length")
        metadata = marker == _COM or (0xE1 <= marker <= 0xEF and marker not in _KEPT_APP_MARKERS)
        if not metadata:
            out.append(view[pos:seg_end])
        pos = seg_end
        if marker == _SOS:  # entropy-coded data follows, up to the next real marker
            scan_start = pos
            while True:
                pos = data.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= end:
                    raise ValueError("scan not terminated")
                following = data[pos + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:
                    pos += 2
                    continue
                if following == 0xFF:  # fill byte before the marker
                    pos += 1
                    continue
                break
            out.append(view[scan_start:pos])


def image_validate(
    data: bytes, *, max_bytes: int, max_pixels: int, max_side: int, min_side: int, quality: int = 85
) -> ValidImage:
    if not isinstance(data, bytes | bytearray) or len(data) == 0:
        raise errors.ImageNotSupported()
    if len(data) > max_bytes:
        raise errors.ImageTooLarge(extra={"max_bytes": max_bytes, "size": len(data)})
    if data.startswith(JPEG_MAGIC):
        expected = "JPEG"
    elif data.startswith(PNG_MAGIC):
        expected = "PNG"
    else:
        raise errors.ImageNotSupported()
    data = bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data), formats=[expected])
            width, height = img.size
            if width * height > max_pixels:
                raise errors.ImageBomb(extra={"max_pixels": max_pixels, "width": width, "height": height})
            if not (min_side <= width <= max_side and min_side <= height <= max_side):
                raise errors.ImageDimensions(
                    extra={"min_side": min_side, "max_side": max_side, "width": width, "height": height}
                )
            if (
                expected == "JPEG"
                and img.mode in ("RGB", "L")
                and img.getexif().get(EXIF_ORIENTATION, 1) == 1
            ):
                stripped = jpeg_strip_metadata(data)
                _decode_fully_at_reduced_scale(stripped, width, height)
                return ValidImage(
                    data=stripped, width=width, height=height, source_format=expected, reencoded=False
                )
            img.load()
            rgb = _upright_rgb(img)
            out = io.BytesIO()
            rgb.save(out, format="JPEG", quality=quality, optimize=False)  # no exif= : metadata dropped
        except errors.ImageRejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise errors.ImageBomb(extra={"max_pixels": max_pixels}) from None
        except (OSError, SyntaxError, ValueError, EOFError, Image.UnidentifiedImageError, MemoryError):
            raise errors.ImageCorrupt() from None
    return ValidImage(data=out.getvalue(), width=rgb.width, height=rgb.height, source_format=expected)


def _decode_fully_at_reduced_scale(jpeg: bytes, width: int, height: int) -> None:
    """Raise OSError unless the whole JPEG decodes (Pillow refuses truncated data by default)."""
    img = Image.open(io.BytesIO(jpeg), formats=["JPEG"])
    if img.size != (width, height):
        raise ValueError("stripping changed the image")
    img.draft(img.mode, (max(1, width // 8), max(1, height // 8)))
    img.load()


def _upright_rgb(img: Image.Image) -> Image.Image:
    upright = ImageOps.exif_transpose(img)
    if upright.mode in ("RGBA", "LA", "PA") or (upright.mode == "P" and "transparency" in upright.info):
        rgba = upright.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return upright.convert("RGB")
