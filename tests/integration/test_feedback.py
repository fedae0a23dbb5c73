"""Analyst feedback on a real PostgreSQL, blob store and FAISS index: confirmed listing photos join
the gallery and the live index; dismissed pairs become hard negatives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lootwatch.alerts.feedback import add_listing_photos_to_gallery, hard_negatives
from lootwatch.alerts.review import decide
from lootwatch.alerts.rules import AlertRules
from lootwatch.matcher.errors import IndexNotFoundError
from lootwatch.matcher.index import GalleryIndex, embed_images
from lootwatch.matcher.store import CURRENT, current_version, load_current, publish
from lootwatch.matcher.views import GalleryViews, embed_views

from lootwatch.core.db import Database
from lootwatch.core.errors import StateError
from lootwatch.core.gallery_photos import GalleryPhoto
from lootwatch.core.images import vet_image
from lootwatch.core.settings import Settings
from tests.fixtures.photos import jpeg, restage, textured
from tests.integration.test_rules import World, make_world

pytestmark = pytest.mark.postgres


@pytest.fixture
def world(db: Database, settings: Settings) -> World:
    return make_world(db, settings)


def _gallery_index(world: World, descriptor: Any, views: GalleryViews | None = None) -> GalleryIndex:
    rows = world.db.fetchall("SELECT id, artefact_id, stored_path FROM artefact_photos ORDER BY id")
    photos = [
        GalleryPhoto(r["artefact_id"], photo_id=r["id"], image=vet_image(world.store.read(r["stored_path"])).image)
        for r in rows
    ]
    index = GalleryIndex.build(descriptor, photos, calibrate=False, threshold=0.8, views=views)
    publish(index, world.settings.index_dir)
    return index


def _confirmed_alert(
    world: World, descriptor: Any, views: GalleryViews | None = None
) -> tuple[int, list[int], list[bytes]]:
    g1 = world.artefact("A1", jpeg(textured(1)))
    world.artefact("A2", jpeg(textured(2)))
    _gallery_index(world, descriptor, views)
    shots = [jpeg(restage(textured(1))), jpeg(restage(textured(1)).rotate(4))]
    _, photos = world.listing("lot-1", shots)
    for p in photos:
        world.match(p, "A1", 0.9, g1)
    (item_id,) = world.decide(photos, AlertRules(threshold=0.8))
    decide(world.db, item_id, "confirm", "ana", "museum confirms")
    return item_id, photos, shots


def test_confirmed_photos_join_the_gallery_and_a_new_index_version(world: World, descriptor: Any) -> None:
    item_id, photos, shots = _confirmed_alert(world, descriptor)
    before = current_version(world.settings.index_dir)
    result = add_listing_photos_to_gallery(world.db, world.settings, item_id, descriptor=descriptor)

    rows = world.db.fetchall(
        "SELECT id, artefact_id, from_listing_photo_id, stored_path FROM artefact_photos "
        "WHERE from_listing_photo_id IS NOT NULL ORDER BY id"
    )
    assert [(r["artefact_id"], r["from_listing_photo_id"]) for r in rows] == [("A1", p) for p in photos]
    assert all(r["stored_path"].startswith("gallery/") for r in rows)
    assert result.added_photo_ids == result.indexed_photo_ids == [r["id"] for r in rows]
    assert result.index_version is not None and result.index_version != before
    live = load_current(world.settings.index_dir)
    assert live.version == result.index_version == current_version(world.settings.index_dir)
    assert live.ntotal == 4 and all(live.artefact_of[r["id"]] == "A1" for r in rows)
    assert live.threshold == 0.8  # calibration kept
    # the listing photo now finds itself in the gallery
    (hits,) = live.search(embed_images(descriptor, [vet_image(shots[0]).image]), k=1)
    assert hits[0].artefact_id == "A1" and hits[0].photo_id == rows[0]["id"] and hits[0].similarity > 0.999

    again = add_listing_photos_to_gallery(world.db, world.settings, item_id, descriptor=descriptor)
    assert (again.added_photo_ids, again.indexed_photo_ids, again.index_version) == ([], [], None)
    assert current_version(world.settings.index_dir) == result.index_version


def test_confirmed_photos_are_embedded_with_the_live_index_views(world: World, descriptor: Any) -> None:
    views = GalleryViews((0.75, 1.0))
    item_id, _, shots = _confirmed_alert(world, descriptor, views)
    result = add_listing_photos_to_gallery(world.db, world.settings, item_id, descriptor=descriptor)
    live = load_current(world.settings.index_dir)
    assert live.views == views
    # the photo's stored vector is its multi-scale one, as every other gallery vector of this index
    (hits,) = live.search(embed_views(descriptor, [vet_image(shots[0]).image], views), k=1)
    assert hits[0].photo_id == result.indexed_photo_ids[0] and hits[0].similarity > 0.999


def test_a_failed_index_update_is_completed_by_the_next_call(world: World, descriptor: Any) -> None:
    item_id, photos, _ = _confirmed_alert(world, descriptor)
    (world.settings.index_dir / CURRENT).unlink()  # no live index: the rows are written, indexing fails
    with pytest.raises(IndexNotFoundError):
        add_listing_photos_to_gallery(world.db, world.settings, item_id, descriptor=descriptor)
    rows = world.db.fetchall("SELECT id FROM artefact_photos WHERE from_listing_photo_id IS NOT NULL ORDER BY id")
    assert len(rows) == len(photos)
    index = GalleryIndex.load(max(p for p in Path(world.settings.index_dir).iterdir() if p.is_dir()))
    publish(index, world.settings.index_dir)
    result = add_listing_photos_to_gallery(world.db, world.settings, item_id, descriptor=descriptor)
    assert result.added_photo_ids == [] and result.indexed_photo_ids == [r["id"] for r in rows]
    assert load_current(world.settings.index_dir).ntotal == 2 + len(photos)


def test_only_a_confirmed_item_feeds_the_gallery(world: World, descriptor: Any) -> None:
    g = world.artefact("A1", jpeg(textured(1)))
    _, (p,) = world.listing("lot-1", [jpeg(textured(8))])
    world.match(p, "A1", 0.9, g)
    (item_id,) = world.decide([p], AlertRules(threshold=0.8))
    with pytest.raises(StateError, match="is new: only a confirmed match"):
        add_listing_photos_to_gallery(world.db, world.settings, item_id, descriptor=descriptor)
    assert world.db.fetchone("SELECT count(*) AS n FROM artefact_photos") == {"n": 1}


def test_dismissal_records_hard_negatives_whoever_dismisses(world: World) -> None:
    g1 = world.artefact("A1", jpeg(textured(1)))
    g2 = world.artefact("A2", jpeg(textured(2)))
    _, (p1, p2, p3) = world.listing("lot-1", [jpeg(textured(31)), jpeg(textured(32)), jpeg(textured(33))])
    world.match(p1, "A1", 0.9, g1)
    world.match(p2, "A1", 0.7, g1, rank=2)
    world.match(p3, "A2", 0.95, g2)  # another artefact: not part of the dismissed pair
    opened = world.decide([p1, p2, p3], AlertRules(threshold=0.8))
    items = {i["artefact_id"]: i["id"] for i in world.items()}
    assert sorted(opened) == sorted(items.values())
    assert hard_negatives(world.db) == []
    decide(world.db, items["A1"], "dismiss", "ana", "a different bowl")
    rows = world.db.fetchall("SELECT photo_id, artefact_id, review_item_id, score FROM hard_negatives ORDER BY 1")
    assert rows == [
        {"photo_id": p1, "artefact_id": "A1", "review_item_id": items["A1"], "score": 0.9},
        {"photo_id": p2, "artefact_id": "A1", "review_item_id": items["A1"], "score": 0.7},
    ]
    exported = hard_negatives(world.db, world.store)
    assert [a for _, a in exported] == ["A1", "A1"]
    assert all(Path(path).is_file() for path, _ in exported)
    relative = hard_negatives(world.db)
    assert [r for r, _ in relative] == [str(Path(path).relative_to(world.store.root)) for path, _ in exported]
    # a dismissal straight in SQL (an admin's correction) is recorded the same way
    world.db.execute("UPDATE review_items SET state = 'dismissed' WHERE id = %s", (items["A2"],))
    assert [a for _, a in hard_negatives(world.db)] == ["A1", "A1", "A2"]
