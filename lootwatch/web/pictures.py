"""Pictures the review app draws from stored photos: thumbnails, the ORB/RANSAC inlier lines
between a listing photo and its gallery photo, and the classifier's saliency overlay.

Each is derived from photos whose bytes never change (named by their SHA-256), so it is computed
once and kept in the blob store (``thumbs/``, ``geometry/``, ``saliency/``).
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image, ImageDraw

THUMB_SIDE = 160
# the inlier picture: both photos scaled to this height, side by side
PAIR_HEIGHT = 480
_LINE_COLOURS = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
                 (70, 240, 240), (240, 50, 230)]  # fmt: skip


def thumbnail_jpeg(image: Image.Image, side: int = THUMB_SIDE) -> bytes:
    """The photo fitted in ``side`` x ``side``; a smaller photo is scaled up to it, so a 32 px
    photo is seen as a photo, not a dot."""
    rgb = image.convert("RGB")
    scale = side / max(rgb.size)
    size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    out = io.BytesIO()
    rgb.resize(size, Image.Resampling.LANCZOS).save(out, "JPEG", quality=85)
    return out.getvalue()


def inlier_picture(query: Image.Image, reference: Image.Image, pairs: list[tuple[Any, Any]]) -> bytes:
    """PNG: the listing photo (left) and the gallery photo (right) at one height, a line per inlier pair."""
    left, right = (_at_height(im.convert("RGB"), PAIR_HEIGHT) for im in (query, reference))
    gap = 16
    canvas = Image.new("RGB", (left.width + gap + right.width, PAIR_HEIGHT), (255, 255, 255))
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width + gap, 0))
    draw = ImageDraw.Draw(canvas)
    sl, sr = PAIR_HEIGHT / query.height, PAIR_HEIGHT / reference.height
    for n, ((qx, qy), (rx, ry)) in enumerate(pairs):
        a = (qx * sl, qy * sl)
        b = (left.width + gap + rx * sr, ry * sr)
        colour = _LINE_COLOURS[n % len(_LINE_COLOURS)]
        draw.line([a, b], fill=colour, width=2)
        for x, y in (a, b):
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], outline=colour, width=2)
    out = io.BytesIO()
    canvas.save(out, "PNG", optimize=True)
    return out.getvalue()


def _at_height(image: Image.Image, height: int) -> Image.Image:
    width = max(1, round(image.width * height / image.height))
    return image.resize((width, height), Image.Resampling.LANCZOS)


def saliency_png(clf: Any, image: Image.Image) -> bytes:
    # torch loads with the classifier, on the first saliency request only
    from lootwatch.models.classifier_saliency import saliency_overlay  # heavy import: torch

    buf = io.BytesIO()
    saliency_overlay(clf, image).save(buf, "PNG")
    return buf.getvalue()
