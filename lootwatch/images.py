"""Decode and vet an image before it is stored or matched.

Every refusal raises :class:`BadInputError` whose message is the recorded reason, so a corrupt
file, HTML served as a JPEG or a decompression bomb is reported, never half-processed.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import imagehash
from PIL import Image, ImageOps, UnidentifiedImageError

from lootwatch.errors import BadInputError

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"})


@dataclass(frozen=True)
class VettedImage:
    image: Image.Image  # RGB, EXIF orientation applied, first frame
    width: int
    height: int
    format: str
    phash: str  # "" when not asked for (it costs a DCT per image)


def vet_image(
    data: bytes, *, max_bytes: int = 20_000_000, max_pixels: int = 50_000_000, with_phash: bool = True
) -> VettedImage:
    if not data:
        raise BadInputError("empty file (0 bytes)")
    if len(data) > max_bytes:
        raise BadInputError(f"too large: {len(data)} bytes > limit {max_bytes}")
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<svg")):
        raise BadInputError("not an image: markup (HTML/SVG/XML) where an image was expected")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            fmt = img.format or "unknown"
            if fmt not in ACCEPTED_FORMATS:
                raise BadInputError(f"unsupported image format {fmt}")
            w, h = img.size
            if w * h > max_pixels:
                raise BadInputError(f"too many pixels: {w}x{h} > limit {max_pixels} (decompression bomb?)")
            img.load()
            ImageOps.exif_transpose(img, in_place=True)  # in place: no copy of every photo's pixels
            rgb = _to_rgb(img)
    except BadInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadInputError(f"decompression bomb refused: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise BadInputError("not a recognisable image") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadInputError(f"corrupt or truncated image: {exc}") from exc
    return VettedImage(rgb, rgb.width, rgb.height, fmt, str(imagehash.phash(rgb)) if with_phash else "")


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img  # convert() would copy it
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))  # transparent -> white, as a browser shows it
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: scale to 8 bits instead of clipping
        import numpy as np

        arr = np.asarray(img, dtype=np.float64)
        peak = arr.max() or 1.0
        return Image.fromarray((arr / peak * 255).astype("uint8")).convert("RGB")
    return img.convert("RGB")
