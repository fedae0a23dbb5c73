"""Reading the blob store from the web app: never outside it, and knowing before an <img> is drawn
whether a photo's file is there."""

from __future__ import annotations

from lootwatch.core.storage import BlobStore, file_of


def stored(store: BlobStore, rel: str) -> bytes | None:
    """The blob at ``rel`` (un-gzipped), or None when it is missing or outside the store."""
    root = store.root.resolve()
    if not rel or not (root / file_of(rel)).resolve().is_relative_to(root):
        return None
    try:
        return store.read(rel)
    except OSError:
        return None


def is_stored(store: BlobStore, rel: str | None) -> bool:
    """Whether ``rel`` names a file in the store (so an <img> of it will not be a broken image)."""
    if not rel:
        return False
    root = store.root.resolve()
    path = (root / file_of(rel)).resolve()
    return path.is_relative_to(root) and path.is_file()
