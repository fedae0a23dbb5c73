"""What analysts' verdicts teach the system.

- Confirmed: the listing photos show the artefact, so they can join its gallery
  (:func:`add_listing_photos_to_gallery`): rows in ``artefact_photos`` and vectors added to the
  live index, published as a new version the workers pick up without a restart. The next
  relisting of the object, photographed the dealer's way, then matches more closely.
- Dismissed: the database itself records the listing photos that matched the artefact as hard
  negatives (trigger of migration 0004), whoever dismissed; :func:`hard_negatives` exports them
  for the next descriptor training.

The index part imports ``matcher`` and ``models`` lazily: only this action needs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lootwatch.core.db import Database
from lootwatch.core.errors import BadInputError, NotFoundError, StateError
from lootwatch.core.images import VettedImage, vet_image
from lootwatch.core.settings import Settings
from lootwatch.core.storage import BlobStore

# one index update at a time: two confirmations publishing from the same version would lose one
_INDEX_LOCK = 0x100770A7C5


@dataclass(frozen=True)
class GalleryAddition:
    review_item_id: int
    artefact_id: str
    added_photo_ids: list[int] = field(default_factory=list)  # artefact_photos rows written now
    indexed_photo_ids: list[int] = field(default_factory=list)  # added to the index now
    skipped: dict[int, str] = field(default_factory=dict)  # listing photo id -> why not used
    index_version: str | None = None  # published now; None when the index already had them

    def summary(self) -> str:
        text = (
            f"Gallery of {self.artefact_id}: {len(self.added_photo_ids)} photo(s) added, "
            f"{len(self.indexed_photo_ids)} indexed"
        )
        text += f" (index {self.index_version})" if self.index_version else ""
        if self.skipped:
            text += "; skipped " + ", ".join(f"#{k} ({v})" for k, v in sorted(self.skipped.items()))
        return text + "."

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (an RQ job's result): the fields and the one-line summary."""
        return {
            "review_item_id": self.review_item_id,
            "artefact_id": self.artefact_id,
            "added_photo_ids": self.added_photo_ids,
            "indexed_photo_ids": self.indexed_photo_ids,
            "skipped": {str(k): v for k, v in self.skipped.items()},
            "index_version": self.index_version,
            "summary": self.summary(),
        }


def add_listing_photos_to_gallery(
    db: Database, settings: Settings, review_item_id: int, *, descriptor: Any = None
) -> GalleryAddition:
    """Add the confirmed item's listing photos to its artefact's gallery and to the live index.

    Idempotent: photos already in the gallery or the index are not added twice, and a run that
    failed after writing the rows completes the index on the next call. ``descriptor``: one
    already loaded (the web app's or a test's), else ``settings.descriptor`` is loaded; it must
    be the one the live index was built with.
    """
    store = BlobStore(settings.store_dir)
    added, skipped = [], {}
    with db.transaction() as conn:
        item = conn.execute(
            """SELECT r.state, r.artefact_id, r.listing_id, a.removed_at FROM review_items r
               JOIN artefacts a ON a.id = r.artefact_id WHERE r.id = %s FOR SHARE OF r""",
            (review_item_id,),
        ).fetchone()
        if item is None:
            raise NotFoundError(f"review item {review_item_id} does not exist")
        if item["state"] != "confirmed":
            raise StateError(
                f"review item {review_item_id} is {item['state']}: "
                "only a confirmed match can join the artefact's gallery"
            )
        if item["removed_at"] is not None:
            raise StateError(f"artefact {item['artefact_id']} was removed from the watch list")
        artefact_id: str = item["artefact_id"]
        photos = conn.execute(
            """SELECT DISTINCT p.id, p.stored_path, p.status FROM listing_photos p
               JOIN listing_photo_links k ON k.photo_id = p.id
               WHERE k.listing_id = %s
                  OR k.listing_id IN (SELECT listing_id FROM alert_links WHERE review_item_id = %s)
               ORDER BY p.id""",
            (item["listing_id"], review_item_id),
        ).fetchall()
        for p in photos:
            if p["status"] == "rejected" or not p["stored_path"]:
                skipped[p["id"]] = f"not usable ({p['status']})"
                continue
            try:
                data = store.read(p["stored_path"])
                vetted = _vet(settings, data)
            except (OSError, BadInputError) as exc:
                skipped[p["id"]] = str(exc)
                continue
            sha, rel = store.put("gallery", data, "." + vetted.format.lower().replace("jpeg", "jpg"))
            row = conn.execute(
                """INSERT INTO artefact_photos (artefact_id, sha256, stored_path, source_name, width, height,
                                                from_listing_photo_id)
                   VALUES (%s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT (artefact_id, sha256) DO NOTHING RETURNING id""",
                (artefact_id, sha, rel, f"listing-photo:{p['id']}", vetted.width, vetted.height, p["id"]),
            ).fetchone()
            if row is not None:
                added.append(int(row["id"]))
    # rows are committed before the index changes: an index never names a photo the database lacks
    photo_ids = [int(p["id"]) for p in photos]
    indexed, version = _index_new_photos(db, settings, store, artefact_id, photo_ids, descriptor)
    return GalleryAddition(review_item_id, artefact_id, added, indexed, skipped, version)


def _index_new_photos(
    db: Database,
    settings: Settings,
    store: BlobStore,
    artefact_id: str,
    listing_photo_ids: list[int],
    descriptor: Any,
) -> tuple[list[int], str | None]:
    from lootwatch.matcher.store import live_descriptor_spec, load_current, publish  # heavy import: faiss

    with db.transaction() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_INDEX_LOCK,))
        # the live version's own descriptor when it carries one (a gallery fine-tune)
        spec = live_descriptor_spec(settings.index_dir, settings.descriptor)
        bundled = spec != settings.descriptor
        if descriptor is None:
            from lootwatch.models.descriptor import load_descriptor  # heavy import: torch

            descriptor = load_descriptor(spec)
        index = load_current(settings.index_dir, expect_card=descriptor.card)
        rows = conn.execute(
            """SELECT id, stored_path FROM artefact_photos
               WHERE artefact_id = %s AND from_listing_photo_id = ANY(%s) ORDER BY id""",
            (artefact_id, listing_photo_ids),
        ).fetchall()
        new = [r for r in rows if int(r["id"]) not in index.artefact_of]
        if not new:
            return [], None
        images = [_vet(settings, store.read(r["stored_path"])).image for r in new]
        ids = [int(r["id"]) for r in new]
        # the calibrated threshold is kept: a few more views of one artefact do not move it
        index.add(ids, [artefact_id] * len(ids), index.embed_gallery(descriptor, images))  # the index's own views
        publish(index, settings.index_dir, descriptor=descriptor if bundled else None)
        return ids, index.version


def hard_negatives(db: Database, store: BlobStore | None = None) -> list[tuple[str, str]]:
    """(listing photo path, artefact id) of every dismissed pair, oldest first.

    Paths are relative to the blob store, or absolute when ``store`` is given.
    """
    rows = db.fetchall(
        """SELECT p.stored_path, h.artefact_id FROM hard_negatives h
           JOIN listing_photos p ON p.id = h.photo_id
           WHERE p.stored_path <> '' ORDER BY h.id"""
    )
    return [(str(store.path(r["stored_path"])) if store else r["stored_path"], r["artefact_id"]) for r in rows]


def _vet(settings: Settings, data: bytes) -> VettedImage:
    return vet_image(data, max_bytes=settings.max_photo_bytes, max_pixels=settings.max_photo_pixels)
