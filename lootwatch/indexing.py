"""Build the gallery index from the artefacts in Postgres and publish it as a new version."""

from __future__ import annotations

from collections.abc import Iterator

from lootwatch.db import Database
from lootwatch.errors import BadInputError
from lootwatch.images import vet_image
from lootwatch.settings import Settings
from lootwatch.storage import BlobStore


def gallery_photos(db: Database, store: BlobStore, settings: Settings) -> Iterator:  # noqa: ANN401
    from matcher.index import GalleryPhoto

    rows = db.fetchall(
        """SELECT p.id, p.artefact_id, p.stored_path FROM artefact_photos p
           JOIN artefacts a ON a.id = p.artefact_id WHERE a.removed_at IS NULL ORDER BY p.id"""
    )
    if not rows:
        raise BadInputError("the gallery is empty: run `lootwatch gallery import PATH` first")
    for row in rows:
        vetted = vet_image(
            store.read(row["stored_path"]),
            max_bytes=settings.max_photo_bytes,
            max_pixels=settings.max_photo_pixels,
            with_phash=False,
        )
        yield GalleryPhoto(int(row["id"]), row["artefact_id"], vetted.image)


def build_and_publish(
    db: Database, settings: Settings, *, descriptor_spec: str | None = None, kind: str = "flat", progress: bool = True
):  # noqa: ANN201 - matcher.index.GalleryIndex
    """Embed every gallery photo, calibrate the alert threshold on the gallery, publish; return the index."""
    from tqdm import tqdm

    from matcher.index import GalleryIndex
    from matcher.store import publish
    from models.descriptor import load_descriptor

    descriptor = load_descriptor(descriptor_spec or settings.descriptor)
    photos = list(gallery_photos(db, BlobStore(settings.store_dir), settings))
    index = GalleryIndex.build(
        descriptor,
        photos,
        kind=kind,
        contrast=settings.score_contrast,
        progress=(lambda it: tqdm(list(it), desc="embedding gallery", unit="batch")) if progress else None,
    )
    publish(index, settings.index_dir)
    return index
