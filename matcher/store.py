"""Published index versions under ``settings.index_dir`` and the pointer to the live one.

Layout (a :class:`lootwatch.core.versioned.VersionedStore`)::

    <index_dir>/<version>/index.faiss, meta.json    one folder per published index, never rewritten
    <index_dir>/<version>/descriptor.pt            the descriptor fine-tuned on this gallery, when
                                                   the index was built with one (matcher.tuning)
    <index_dir>/CURRENT                             the live version's folder name (one line)

``publish`` writes the new version into a staging folder, renames it into place, then replaces
CURRENT, so a reader sees either the old version or the complete new one. Workers follow CURRENT
between batches (``workers.engine``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from lootwatch.matcher.errors import IndexNotFoundError
from lootwatch.matcher.index import META_FILE, GalleryIndex
from lootwatch.matcher.views import GalleryViews

from lootwatch.core.versioned import CURRENT, VersionedStore

__all__ = [
    "CURRENT",
    "DESCRIPTOR_FILE",
    "current_version",
    "descriptor_spec_for",
    "index_versions",
    "live_descriptor_spec",
    "live_views",
    "load_current",
    "prune",
    "publish",
]

DESCRIPTOR_FILE = "descriptor.pt"


def index_versions(index_dir: Path) -> VersionedStore:
    return VersionedStore(index_dir)


def publish(index: GalleryIndex, index_dir: Path, descriptor: Any = None) -> Path:
    """Save ``index`` as ``<index_dir>/<index.version>/`` and make it the live version.

    ``descriptor``: the model the index was built with when it is not the configured one (a
    gallery fine-tune); it is stored beside the index, full precision, so that every reader
    embeds with exactly the weights that embedded the gallery.
    """
    store = index_versions(index_dir)
    # Versions are immutable: each publish gets a fresh time stamp (the next second if taken).
    index.restamp()
    while store.path(index.version).exists():
        time.sleep(0.2)
        index.restamp()
    with store.staging() as staging:
        index.save(staging)
        if descriptor is not None:
            from lootwatch.models.descriptor import save_checkpoint  # heavy import: torch, only for a fine-tune

            save_checkpoint(descriptor, staging / DESCRIPTOR_FILE, half=False)
        return store.publish(staging, index.version)


def current_version(index_dir: Path) -> str | None:
    return index_versions(index_dir).current()


def descriptor_spec_for(version_dir: Path, configured: str) -> str:
    """The descriptor that embeds queries for the index in ``version_dir``: its own, else ``configured``."""
    bundled = Path(version_dir) / DESCRIPTOR_FILE
    return str(bundled) if bundled.is_file() else configured


def live_descriptor_spec(index_dir: Path, configured: str) -> str:
    """The descriptor of the live index version (see :func:`descriptor_spec_for`)."""
    version = current_version(index_dir)
    return configured if version is None else descriptor_spec_for(Path(index_dir) / version, configured)


def live_views(index_dir: Path) -> GalleryViews:
    """How the live index embedded its gallery photos (plain when there is no live index)."""
    version = current_version(index_dir)
    if version is None:
        return GalleryViews()
    try:
        meta = json.loads((Path(index_dir) / version / META_FILE).read_text())
    except FileNotFoundError as exc:
        raise IndexNotFoundError(f"the live index {version} in {index_dir} has no {META_FILE}") from exc
    return GalleryViews.from_dict((meta.get("options") or {}).get("views"))


def load_current(index_dir: Path, **expect: Any) -> GalleryIndex:
    """The live index; ``expect_card=`` / ``expect_card_version=`` as in :meth:`GalleryIndex.load`."""
    version = current_version(index_dir)
    if version is None:
        raise IndexNotFoundError(f"no published gallery index in {index_dir}; run `lootwatch index build`")
    return GalleryIndex.load(Path(index_dir) / version, **expect)


def prune(index_dir: Path, keep: int = 3) -> list[str]:
    """Delete all but the ``keep`` newest versions (never the live one); returns the deleted names."""
    return index_versions(index_dir).prune(keep)
