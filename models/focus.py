"""Object focus: crop a listing photo to the object before a model sees it.

Sellers photograph an object on a backdrop (cloth, a wall, a table, a colour card) and often leave
much of the frame to it. A globally pooled CNN feature mixes the backdrop's colours into the
object's, and an object told apart from a lookalike by a coloured band loses exactly that cue on a
backdrop of the other's colour. ``object_box`` finds what differs from the backdrop, which it reads
off the photo's own border (per row from the left/right edges, per column from the top/bottom, so
gradients and a table edge are backdrop too), and ``focus_object`` crops to a square around it.

When the backdrop is not readable from the border (a busy pattern, the object filling the frame,
nothing found) the photo is left whole: focusing can only zoom in, never cut the object away.
Gallery photos go through the same function (studio photos on black crop to their object), so a
model trained on focused views sees the same framing at training and at matching time.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

# how a model frames a photo (a classifier card's extra["focus"]): whole, or cropped to its object
FOCUS_MODES = ("none", "object")
ANALYSIS_SIDE = 96  # px: the mask is computed on a thumbnail; boxes scale back to the photo
MIN_SHARE, MAX_SHARE = 0.02, 0.6  # object area share outside which the backdrop reading is not trusted
MIN_CONTRAST = 30.0  # RGB distance to the backdrop that counts as object, at least
MARGIN = 0.12  # of the object's longer side, each way: keeps outline and context
MAX_BOX_SHARE = 0.8  # a box this large would barely zoom: keep the whole photo


def object_box(img: Image.Image) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) in ``img`` pixels of a square around the object, or None."""
    w, h = img.size
    if w < 8 or h < 8:
        return None
    side = ANALYSIS_SIDE
    small = img.convert("RGB").resize((side, side), Image.Resampling.BILINEAR).filter(ImageFilter.MedianFilter(3))
    a = np.asarray(small, dtype=np.float32)
    b = max(2, side // 24)  # border band read as backdrop
    row_ref = np.median(np.concatenate([a[:, :b], a[:, -b:]], axis=1), axis=1)  # (side, 3)
    col_ref = np.median(np.concatenate([a[:b, :], a[-b:, :]], axis=0), axis=0)  # (side, 3)
    dist = np.minimum(
        np.linalg.norm(a - row_ref[:, None, :], axis=2),
        np.linalg.norm(a - col_ref[None, :, :], axis=2),
    )
    # the backdrop's own texture (cloth, noise) sets the bar: 2x its 95th percentile on the border
    border = np.concatenate([dist[:, :b].ravel(), dist[:, -b:].ravel(), dist[:b, :].ravel(), dist[-b:, :].ravel()])
    threshold = max(MIN_CONTRAST, 2.0 * float(np.percentile(border, 95)))
    raw = Image.fromarray(((dist > threshold) * 255).astype(np.uint8))
    mask = np.asarray(raw.filter(ImageFilter.MedianFilter(5))) > 127  # drops specks and thin text strokes
    share = float(mask.mean())
    if not MIN_SHARE <= share <= MAX_SHARE:
        return None
    ys, xs = np.nonzero(mask)
    x0, x1 = np.percentile(xs, [1, 99])
    y0, y1 = np.percentile(ys, [1, 99])
    extent = max(x1 - x0 + 1, y1 - y0 + 1) * (1 + 2 * MARGIN)
    cx, cy = (x0 + x1 + 1) / 2, (y0 + y1 + 1) / 2
    box = np.clip(np.array([cx - extent / 2, cy - extent / 2, cx + extent / 2, cy + extent / 2]) / side, 0.0, 1.0)
    if (box[2] - box[0]) * (box[3] - box[1]) > MAX_BOX_SHARE:
        return None
    left, top = int(box[0] * w), int(box[1] * h)
    right, bottom = int(np.ceil(box[2] * w)), int(np.ceil(box[3] * h))
    if right - left < 4 or bottom - top < 4:
        return None
    return left, top, right, bottom


def focus_object(img: Image.Image) -> Image.Image:
    """``img`` cropped to its object (see ``object_box``), or ``img`` itself when none is found."""
    box = object_box(img)
    return img if box is None else img.crop(box)
