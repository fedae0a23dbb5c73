"""The descriptor and the gallery index a worker matches with, loaded once per process.

A new index version published under the index dir (``CURRENT``) is picked up between batches
without a restart; a descriptor that does not fit the new index is refused, keeping the old pair.

The forward pass runs on CUDA with autocast where there is a GPU. On a CPU the fastest of fp32,
bf16 autocast and channels_last is not knowable in advance (it depends on the CPU's AMX/AVX-512
support and the model), so ``precision="auto"`` times a few batches of each at start-up and keeps
the fastest whose embeddings still agree with fp32 (see :mod:`workers.calibration`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from lootwatch.errors import ConfigError

if TYPE_CHECKING:
    import torch

    from matcher.index import GalleryIndex

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16", "channels_last")


@dataclass
class Hit:
    artefact_id: str
    score: float
    photo_id: int | None
    rank: int


class MatchEngine:
    def __init__(
        self,
        descriptor_spec: str,
        index_dir: Path,
        device: str = "cpu",
        top_k: int = 5,
        precision: str = "fp32",
        calibration_batch: int = 8,
        calibration_cache: Path | None = None,
    ) -> None:
        from models.descriptor import load_descriptor

        self.descriptor = load_descriptor(descriptor_spec, device=device)
        self.device = device
        self.index_dir = index_dir
        self.top_k = top_k
        self._index: GalleryIndex | None = None
        self._index_version: str | None = None
        self._checked_at = 0.0
        self.precision = self._choose_precision(precision, calibration_batch, calibration_cache)
        self.reload_if_changed(force=True)

    def _choose_precision(self, requested: str, batch: int, cache: Path | None) -> str:
        if self.device.startswith("cuda"):
            return "cuda-autocast"
        if requested == "auto":
            from workers.calibration import calibrate

            return calibrate(self, batch, cache)
        if requested not in PRECISIONS:
            raise ConfigError(f"precision {requested!r} is not one of auto, {', '.join(PRECISIONS)}")
        self.set_precision(requested)
        return requested

    def set_precision(self, precision: str) -> None:
        import torch

        fmt = torch.channels_last if precision == "channels_last" else torch.contiguous_format
        self.descriptor.to(memory_format=fmt)  # type: ignore[call-overload]
        self.precision = precision

    @property
    def index(self) -> GalleryIndex:
        if self._index is None:
            raise ConfigError(f"no gallery index under {self.index_dir}: run `lootwatch index build` first")
        return self._index

    @property
    def model_version(self) -> str:
        return str(self.descriptor.card.version)

    @property
    def index_version(self) -> str:
        return str(self.index.version)

    def reload_if_changed(self, force: bool = False, every_s: float = 5.0) -> bool:
        from matcher.store import current_version, load_current

        now = time.monotonic()
        if not force and now - self._checked_at < every_s:
            return False
        self._checked_at = now
        version = current_version(self.index_dir)
        if version is None or version == self._index_version:
            return False
        index = load_current(self.index_dir, expect_card_version=self.model_version)
        self._index, self._index_version = index, version
        log.info("gallery index loaded", extra={"action": "index.load", "version": version})
        return True

    def forward(self, x: torch.Tensor, precision: str | None = None) -> torch.Tensor:
        """One batch through the descriptor in the chosen (or given) precision; float32 rows out."""
        import torch

        mode = precision or self.precision
        with torch.inference_mode():
            if mode == "cuda-autocast":
                with torch.autocast("cuda"):
                    return self.descriptor.embed_batch(x).float()
            if mode == "bf16":
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return self.descriptor.embed_batch(x).float()
            if mode == "channels_last":
                x = x.contiguous(memory_format=torch.channels_last)
            return self.descriptor.embed_batch(x).float()

    def embed(self, images: list[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.descriptor.card.dim), dtype=np.float32)
        x = self.descriptor.preprocess(images).to(self.device)
        return np.ascontiguousarray(self.forward(x).cpu().numpy(), dtype=np.float32)

    def search(self, vectors: np.ndarray) -> list[list[Hit]]:
        hits = self.index.search(vectors, self.top_k)
        # matches.rank is 1-based (1 = the best artefact), as analysts read it
        return [[Hit(h.artefact_id, float(h.score), h.photo_id, h.rank + 1) for h in row] for row in hits]
