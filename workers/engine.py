"""The descriptor and the gallery index a worker matches with, loaded once per process.

A new index version published under the index dir (``CURRENT``) is picked up between batches
without a restart; a descriptor that does not fit the new index is refused, keeping the old pair.
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
    from matcher.index import GalleryIndex

log = logging.getLogger(__name__)


@dataclass
class Hit:
    artefact_id: str
    score: float
    photo_id: int | None
    rank: int


class MatchEngine:
    def __init__(self, descriptor_spec: str, index_dir: Path, device: str = "cpu", top_k: int = 5) -> None:
        from models.descriptor import load_descriptor

        self.descriptor = load_descriptor(descriptor_spec, device=device)
        self.index_dir = index_dir
        self.top_k = top_k
        self._index: GalleryIndex | None = None
        self._index_version: str | None = None
        self._checked_at = 0.0
        self.reload_if_changed(force=True)

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

    def embed(self, images: list[Image.Image]) -> np.ndarray:
        return self.descriptor.embed(images)

    def search(self, vectors: np.ndarray) -> list[list[Hit]]:
        hits = self.index.search(vectors, self.top_k)
        # matches.rank is 1-based (1 = the best artefact), as analysts read it
        return [[Hit(h.artefact_id, float(h.score), h.photo_id, h.rank + 1) for h in row] for row in hits]
