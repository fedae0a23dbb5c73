"""Gallery photos embedded as several views: each gallery vector is the mean over input scales (and mirrors).

A studio photo of a protected artefact is matched against auction photos shot at other distances
and crops. Embedding each *gallery* photo at a few network input sizes (0.75x, 1x, 1.25x the card's)
and averaging the unit vectors gives a descriptor that is less tied to one apparent object size.
Listing photos are embedded once, as they are, so the worker's cost per photo is unchanged; the
extra forward passes are paid once per gallery photo, when the index is built.

The views an index was built with are recorded in its ``meta.json``: every later addition to that
index (feedback, a classifier's fused calibration) embeds with the same views.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from lootwatch.core.errors import BadInputError

STRIDE = 32  # CNN trunks downsample by 32: other input sizes would crop their last feature row/column
MIN_SCALE, MAX_SCALE = 0.25, 4.0


class ViewsError(BadInputError):
    """A views setting that cannot be used, or a descriptor that cannot embed at other input sizes."""


@dataclass(frozen=True)
class GalleryViews:
    scales: tuple[float, ...] = (1.0,)
    mirror: bool = False

    def __post_init__(self) -> None:
        if not self.scales:
            raise ViewsError("gallery views need at least one scale")
        bad = [s for s in self.scales if not MIN_SCALE <= float(s) <= MAX_SCALE]
        if bad:
            raise ViewsError(f"gallery view scales must lie within [{MIN_SCALE}, {MAX_SCALE}], got {bad}")

    @property
    def plain(self) -> bool:
        return tuple(self.scales) == (1.0,) and not self.mirror

    @property
    def count(self) -> int:
        return len(self.scales) * (2 if self.mirror else 1)

    def sizes(self, input_size: Sequence[int]) -> list[tuple[int, int]]:
        """The (h, w) network input of each scale: the card's size x scale, to a multiple of 32."""
        h, w = int(input_size[0]), int(input_size[1])
        out = []
        for s in self.scales:
            if float(s) == 1.0:
                size = (h, w)  # exactly the card's size, whatever its rounding
            else:
                size = (max(STRIDE, round(h * s / STRIDE) * STRIDE), max(STRIDE, round(w * s / STRIDE) * STRIDE))
            if size not in out:
                out.append(size)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"scales": [float(s) for s in self.scales], "mirror": bool(self.mirror)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> GalleryViews:
        """An index's recorded views; indexes from before views were recorded hold plain vectors."""
        if not d:
            return cls()
        return cls(tuple(float(s) for s in d.get("scales", (1.0,))), bool(d.get("mirror", False)))

    def describe(self) -> str:
        if self.plain:
            return "plain (1 view)"
        scales = ", ".join(f"{s:g}x" for s in self.scales)
        return f"{self.count} views (scales {scales}{', mirrored' if self.mirror else ''})"


def embed_views(
    descriptor: Any,
    images: Sequence[Image.Image],
    views: GalleryViews,
    *,
    batch_size: int = 32,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> np.ndarray:
    """One unit vector per image: the normalised mean of its views' vectors (plain views: one pass).

    ``descriptor.embed(images)`` embeds at the card's input size; other scales need
    ``descriptor.embed(images, input_size=(h, w))`` (as :class:`models.descriptor.Descriptor` has).
    """
    from lootwatch.matcher.index import card_dict

    card = card_dict(descriptor.card)
    dim = int(card["dim"])
    if not images:
        return np.zeros((0, dim), np.float32)
    card_size = tuple(int(v) for v in card.get("input_size") or (0, 0))
    sizes = views.sizes(card_size) if views.scales != (1.0,) else [card_size]
    total = np.zeros((len(images), dim), np.float64)
    starts: Iterable[int] = range(0, len(images), batch_size)
    if progress is not None:
        starts = progress(starts)
    for i in starts:
        batch = list(images[i : i + batch_size])
        variants = [batch, [ImageOps.mirror(im.convert("RGB")) for im in batch]] if views.mirror else [batch]
        for size in sizes:
            for variant in variants:
                total[i : i + len(batch)] += _embed_at(descriptor, variant, size, card_size)
    norms = np.linalg.norm(total, axis=1, keepdims=True)
    return np.ascontiguousarray(total / np.maximum(norms, 1e-12), dtype=np.float32)


def _embed_at(descriptor: Any, images: list[Image.Image], size: tuple[int, ...], card_size: tuple[int, ...]) -> Any:
    if size == card_size:
        return np.asarray(descriptor.embed(images), dtype=np.float64)
    if "input_size" not in inspect.signature(descriptor.embed).parameters:
        from lootwatch.matcher.index import card_dict

        raise ViewsError(
            f"descriptor {card_dict(descriptor.card).get('name')} cannot embed at input size {size}: "
            "set gallery_scales to 1 (LOOTWATCH_GALLERY_SCALES=1)"
        )
    return np.asarray(descriptor.embed(images, input_size=size), dtype=np.float64)
