"""Reading the blob store from the web app: never outside it, and knowing before an <img> is drawn
whether a photo's file is there."""

from __future__ import annotations

from pathlib import Path

from lootwatch.core.storage import BlobStore, file_of


def _inside(store: BlobStore, rel: str | None) -> Path | None:
    """The file ``rel`` names, when it lies inside the store (a stored path is data a page influenced)."""
    if not rel:
        return None
    root = store.root.resolve()
    path = (root / file_of(rel)).resolve()
    return path if path.is_relative_to(root) else None


def stored(store: BlobStore, rel: str) -> bytes | None:
    """The blob at ``rel`` (un-gzipped), or None when it is missing or outside the store."""
    if _inside(store, rel) is None:
        return None
    try:
        return store.read(rel)
    except OSError:
        return None


def is_stored(store: BlobStore, rel: str | None) -> bool:
    """Whether ``rel`` names a file in the store (so an <img> of it will not be a broken image)."""
    path = _inside(store, rel)
    return path is not None and path.is_file()
