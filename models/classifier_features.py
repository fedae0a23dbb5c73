"""Trunk features of augmented training views, streamed to disk: training memory that does not grow
with the gallery.

Each listing-style view of a training photo is made, pushed through the frozen part of the trunk in
a batch of ``batch_size`` and dropped; only its output (the pooled feature vector when the whole
trunk is frozen, else the frozen prefix's activation) is written, as one row of a flat float32 file.
Epochs read random batches of rows back with positioned reads (``os.pread``), not a memory map, so
neither the views nor the rows of a large gallery ever sit in the process's memory together:
resident memory is the model plus one batch, whatever the gallery size.

Views are deterministic per (seed, photo, view number) (``view_rng``), so whoever needs the same
held-out views again -- the fusion check -- re-makes them instead of keeping them.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lootwatch.models.augment import listing_style
from lootwatch.models.classifier_data import GalleryPhoto
from lootwatch.models.errors import ModelError
from PIL import Image


def view_rng(seed: int, path: Path, k: int) -> random.Random:
    """The random source of view ``k`` of ``path``: the same view whenever it is asked for again."""
    digest = hashlib.sha256(f"{seed}|{path}|{k}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def photo_views(path: Path, n: int, seed: int, keep_original: bool) -> list[Image.Image]:
    """The photo itself (``keep_original``) and ``n`` listing-style re-stagings of it."""
    with Image.open(path) as im:
        img = im.convert("RGB")
    out = [img] if keep_original else []
    out.extend(listing_style(img, view_rng(seed, path, k)) for k in range(n))
    return out


def iter_views(photos: Sequence[GalleryPhoto | Path], n: int, seed: int, keep_original: bool) -> Iterator[Image.Image]:
    for p in photos:
        yield from photo_views(p.file() if isinstance(p, GalleryPhoto) else p, n, seed, keep_original)


@dataclass
class FeatureFile:
    """Rows of one shape in a flat float32 file; read back by index without loading the file."""

    path: Path
    shape: tuple[int, ...]  # of one row
    rows: int

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.shape)) * 4

    def __len__(self) -> int:
        return self.rows

    def take(self, idx: torch.Tensor | np.ndarray | Sequence[int]) -> torch.Tensor:
        """Rows ``idx`` (any order, repeats allowed) as a (len(idx), *shape) tensor."""
        order = np.asarray(idx, dtype=np.int64)
        out = np.empty((len(order), *self.shape), dtype=np.float32)
        if len(order) and (order.min() < 0 or order.max() >= self.rows):
            raise ModelError(f"feature rows {order.min()}..{order.max()} outside 0..{self.rows - 1} in {self.path}")
        fd = os.open(self.path, os.O_RDONLY)
        try:
            size = self.row_bytes
            for k, r in enumerate(order.tolist()):
                out[k] = np.frombuffer(os.pread(fd, size, r * size), dtype=np.float32).reshape(self.shape)
        finally:
            os.close(fd)
        return torch.from_numpy(out)

    def chunks(self, size: int = 256) -> Iterator[torch.Tensor]:
        for start in range(0, self.rows, size):
            yield self.take(range(start, min(self.rows, start + size)))

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path.name, "shape": list(self.shape), "rows": self.rows}

    @classmethod
    def from_dict(cls, folder: Path, d: dict[str, Any]) -> FeatureFile:
        return cls(folder / str(d["path"]), tuple(int(s) for s in d["shape"]), int(d["rows"]))


class Features:
    """Several feature files read as one (training rows, then held-out rows for the refit)."""

    def __init__(self, parts: Sequence[FeatureFile]) -> None:
        self.parts = [p for p in parts if len(p)]
        self.starts = np.cumsum([0] + [len(p) for p in self.parts])

    def __len__(self) -> int:
        return int(self.starts[-1])

    def take(self, idx: torch.Tensor | np.ndarray | Sequence[int]) -> torch.Tensor:
        order = np.asarray(idx, dtype=np.int64)
        if len(self.parts) == 1:
            return self.parts[0].take(order)
        if not self.parts:
            raise ModelError("no feature rows to read")
        part = np.searchsorted(self.starts, order, side="right") - 1
        out = torch.empty((len(order), *self.parts[0].shape))
        for p in np.unique(part).tolist():
            where = part == p
            out[torch.from_numpy(where)] = self.parts[p].take(order[where] - self.starts[p])
        return out

    def chunks(self, size: int = 256) -> Iterator[torch.Tensor]:
        for p in self.parts:
            yield from p.chunks(size)


def write_features(
    path: Path,
    images: Iterator[Image.Image],
    encode: Callable[[list[Image.Image]], torch.Tensor],
    *,
    batch_size: int = 32,
    tick: Callable[[int], None] | None = None,
) -> FeatureFile:
    """Encode ``images`` batch by batch and append each batch's rows to ``path``."""
    rows, shape = 0, None
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        batch: list[Image.Image] = []
        for img in images:
            batch.append(img)
            if len(batch) == batch_size:
                shape = _write(fh, encode(batch), shape)
                rows, batch = rows + len(batch), []
                if tick:
                    tick(rows)
        if batch:
            shape = _write(fh, encode(batch), shape)
            rows += len(batch)
            if tick:
                tick(rows)
    return FeatureFile(path, shape or (0,), rows)


def _write(fh: Any, x: torch.Tensor, shape: tuple[int, ...] | None) -> tuple[int, ...]:
    row = tuple(x.shape[1:])
    if shape is not None and row != shape:
        raise ModelError(f"feature rows changed shape {shape} -> {row}")
    fh.write(np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32).tobytes())
    return row


def save_manifest(folder: Path, key: str, files: dict[str, FeatureFile], labels: dict[str, list[int]]) -> None:
    doc = {"key": key, "files": {k: f.to_dict() for k, f in files.items()}, "labels": labels}
    tmp = folder / "manifest.json.tmp"
    tmp.write_text(json.dumps(doc))
    tmp.replace(folder / "manifest.json")


def load_manifest(folder: Path, key: str) -> tuple[dict[str, FeatureFile], dict[str, list[int]]] | None:
    """The cached features of a training with the same ``key``, if complete."""
    path = folder / "manifest.json"
    if not path.is_file():
        return None
    doc = json.loads(path.read_text())
    if doc.get("key") != key:
        return None
    files = {k: FeatureFile.from_dict(folder, d) for k, d in doc["files"].items()}
    if any(not f.path.is_file() or f.path.stat().st_size != f.rows * f.row_bytes for f in files.values()):
        return None
    return files, {k: list(v) for k, v in doc["labels"].items()}
