"""Validation and normalisation of an uploaded snapshot (Pillow; no Django).

Order matters: the signature and the header's dimensions are checked before any pixel is decoded,
so a decompression bomb is refused without allocating it; only then is the image fully decoded
(a truncated file fails here), turned upright by its EXIF orientation and re-encoded as a JPEG
without metadata (EXIF, GPS and the iOS PNG's colour chunks are dropped).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

from . import errors

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class ValidImage:
    data: bytes  # normalised JPEG, no metadata
    width: int
    height: int
    source_format: str  # "JPEG" or "PNG"
    content_type: str = "image/jpeg"


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
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(bytes(data)), formats=[expected])
            width, height = img.size
            if width * height > max_pixels:
                raise errors.ImageBomb(extra={"max_pixels": max_pixels, "width": width, "height": height})
            if not (min_side <= width <= max_side and min_side <= height <= max_side):
                raise errors.ImageDimensions(
                    extra={"min_side": min_side, "max_side": max_side, "width": width, "height": height}
                )
            img.load()
            upright = ImageOps.exif_transpose(img)
            if upright.mode in ("RGBA", "LA", "PA") or (
                upright.mode == "P" and "transparency" in upright.info
            ):
                rgba = upright.convert("RGBA")
                flat = Image.new("RGB", rgba.size, (255, 255, 255))
                flat.paste(rgba, mask=rgba.getchannel("A"))
                rgb = flat
            else:
                rgb = upright.convert("RGB")
            out = io.BytesIO()
            rgb.save(out, format="JPEG", quality=quality, optimize=False)  # no exif= : metadata dropped
        except errors.ImageRejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise errors.ImageBomb(extra={"max_pixels": max_pixels}) from None
        except (OSError, SyntaxError, ValueError, EOFError, Image.UnidentifiedImageError, MemoryError):
            raise errors.ImageCorrupt() from None
    return ValidImage(data=out.getvalue(), width=rgb.width, height=rgb.height, source_format=expected)
