"""The protected gallery's photos: one record for every reader, and one reader of the database's gallery.

The index embeds decoded photos (``image``, keyed by ``photo_id``); a classifier training reads
photo files (``path``, grouped by ``collection``). A gallery read from PostgreSQL + the blob store
gives both; a benchmark gallery on disk (``models.classifier_data.read_gallery``) gives files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from lootwatch.core.db import Database
from lootwatch.core.errors import BadInputError, NotFoundError
from lootwatch.core.images import vet_image
from lootwatch.core.storage import BlobStore

# every photo of every artefact still on the watch list, in the order it was added
LIVE_GALLERY_SQL = """
    SELECT p.id, p.artefact_id, p.stored_path, a.collection
      FROM artefact_photos p JOIN artefacts a ON a.id = p.artefact_id
     WHERE a.removed_at IS NULL
     ORDER BY p.id"""


@dataclass(frozen=True)
class GalleryPhoto:
    """One photo of a protected artefact."""

    artefact_id: str
    path: Path | None = None  # its file, where there is one
    photo_id: int | None = None  # artefact_photos.id, for a gallery read from the database
    collection: str = ""
    image: Image.Image | None = field(default=None, compare=False, repr=False)  # decoded and vetted

    def file(self) -> Path:
        if self.path is None:
            raise NotFoundError(f"a photo of {self.artefact_id} has no file (it was given decoded)")
        return self.path

    def pixels(self) -> Image.Image:
        """The decoded photo, else its file opened as RGB."""
        if self.image is not None:
            return self.image
        with Image.open(self.file()) as im:
            return im.convert("RGB")

    def key(self) -> int:
        """``photo_id``, which an index needs to name its hits."""
        if self.photo_id is None:
            raise BadInputError(f"a photo of {self.artefact_id} has no photo_id: an index names its hits by it")
        return self.photo_id


@dataclass(frozen=True)
class PhotoLimits:
    """What a gallery photo may be before it is decoded (``Settings.max_photo_bytes`` / ``max_photo_pixels``)."""

    max_bytes: int
    max_pixels: int


def read_gallery_photos(db: Database, store: BlobStore, *, decode: PhotoLimits | None = None) -> list[GalleryPhoto]:
    """The live gallery, oldest photo first.

    ``decode``: each photo is read from the store and vetted (``image`` set; a stored photo that fails
    the vetting raises its BadInputError). Without it each photo must be a plain file in the store,
    as a training reads them (``path``); a missing one raises NotFoundError.
    """
    photos = []
    for row in db.fetchall(LIVE_GALLERY_SQL):
        rel = row["stored_path"]
        path = store.path(rel)
        image = None
        if decode is not None:
            image = vet_image(
                store.read(rel), max_bytes=decode.max_bytes, max_pixels=decode.max_pixels, with_phash=False
            ).image
        elif rel.endswith(".gz") or not path.is_file():
            raise NotFoundError(f"gallery photo {rel} of {row['artefact_id']} is missing from the store")
        photos.append(GalleryPhoto(row["artefact_id"], path, int(row["id"]), row["collection"] or "", image))
    return photos
