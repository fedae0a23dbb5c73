"""The alert rule on a real PostgreSQL: thresholds per collection, top-k, agreeing evidence,
relisting links, notices in the same transaction. Also holds the row builder the evidence and
feedback tests share."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from lootwatch.alerts.rules import AlertRules, decide_alerts

from lootwatch.core.db import Database
from lootwatch.core.images import vet_image
from lootwatch.core.settings import Settings
from lootwatch.core.storage import BlobStore
from tests.fixtures.photos import jpeg, restage, textured

pytestmark = pytest.mark.postgres

INDEX = "idx-1"
MODEL = "pan-0123456789ab"


@dataclass
class World:
    """Rows as the gallery import, the crawler and the worker write them, with stored photos."""

    db: Database
    settings: Settings
    store: BlobStore = field(init=False)

    def __post_init__(self) -> None:
        self.store = BlobStore(self.settings.store_dir)
        self.source = self._one(
            "INSERT INTO sources (name, base_url) VALUES ('example', 'https://example.test') RETURNING id", ()
        )

    def _one(self, sql: str, params: tuple) -> int:
        with self.db.transaction() as conn:
            row = conn.execute(sql, params).fetchone()
        assert row is not None
        return int(next(iter(row.values())))

    def artefact(self, artefact_id: str, image: bytes, *, collection: str = "Museum A") -> int:
        """The artefact (created once) and one gallery photo of it; returns the photo id."""
        sha, rel = self.store.put("gallery", image, ".jpg")
        with self.db.transaction() as conn:
            conn.execute(
                """INSERT INTO artefacts (id, title, collection, provenance) VALUES (%s, %s, %s, 'TR-1')
                   ON CONFLICT (id) DO NOTHING""",
                (artefact_id, f"object {artefact_id}", collection),
            )
            row = conn.execute(
                """INSERT INTO artefact_photos (artefact_id, sha256, stored_path, source_name, width, height)
                   VALUES (%s, %s, %s, 'front.jpg', 160, 160) RETURNING id""",
                (artefact_id, sha, rel),
            ).fetchone()
        assert row is not None
        return int(row["id"])

    def listing(self, item_id: str, photos: list[bytes]) -> tuple[int, list[int]]:
        """A listing and its photos; a photo already stored (same sha256) is linked, not copied."""
        with self.db.transaction() as conn:
            lrow = conn.execute(
                """INSERT INTO listings (source_id, url, item_id, title, price_text, seller)
                   VALUES (%s, %s, %s, %s, '€ 900', 'dealer') RETURNING id""",
                (self.source, f"https://example.test/lot/{item_id}", item_id, f"lot {item_id}"),
            ).fetchone()
            assert lrow is not None
            ids = []
            for pos, data in enumerate(photos):
                sha, rel = self.store.put("photos", data, ".jpg")
                v = vet_image(data)
                prow = conn.execute(
                    """INSERT INTO listing_photos (sha256, source_url, phash, stored_path, bytes, width,
                                                   height, status, fetched_at, matched_at)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, 'matched', '2024-05-01T10:00:00Z', now())
                       ON CONFLICT (sha256) DO UPDATE SET sha256 = EXCLUDED.sha256 RETURNING id""",
                    (sha, f"https://x.test/img/{sha[:8]}.jpg", v.phash, rel, len(data), v.width, v.height),
                ).fetchone()
                assert prow is not None
                conn.execute(
                    "INSERT INTO listing_photo_links (listing_id, photo_id, position) VALUES (%s, %s, %s)",
                    (lrow["id"], prow["id"], pos),
                )
                ids.append(int(prow["id"]))
        return int(lrow["id"]), ids

    def match(self, photo_id: int, artefact_id: str, score: float, gallery_photo_id: int, *, rank: int = 1) -> int:
        return self._one(
            """INSERT INTO matches (photo_id, artefact_id, rank, score, scores, best_gallery_photo_id,
                                    model_version, index_version)
               VALUES (%s, %s, %s, %s, jsonb_build_object('descriptor', %s::float8), %s, %s, %s)
               RETURNING id""",
            (photo_id, artefact_id, rank, score, score, gallery_photo_id, MODEL, INDEX),
        )

    def decide(self, photo_ids: list[int], rules: AlertRules, notify_threshold: float | None = None) -> list[int]:
        with self.db.transaction() as conn:
            return decide_alerts(
                conn, photo_ids, INDEX, self.settings, rules.threshold, rules=rules, notify_threshold=notify_threshold
            )

    def items(self) -> list[dict]:
        return self.db.fetchall("SELECT * FROM review_items ORDER BY id")


def make_world(db: Database, settings: Settings) -> World:
    # a Slack webhook configured, so opening an item writes a notice
    return World(db, settings.model_copy(update={"slack_webhook_url": "http://127.0.0.1:9/hook"}))


@pytest.fixture
def world(db: Database, settings: Settings) -> World:
    return make_world(db, settings)


def test_one_passing_photo_opens_one_item_with_its_notice(world: World) -> None:
    g = world.artefact("A1", jpeg(textured(1)))
    listing, (p,) = world.listing("lot-1", [jpeg(restage(textured(1)))])
    m = world.match(p, "A1", 0.91, g)
    rules = AlertRules(threshold=0.8)
    opened = world.decide([p], rules)
    (item,) = world.items()
    assert opened == [item["id"]]
    got = (item["listing_id"], item["artefact_id"], item["best_match_id"], item["score"])
    assert got == (listing, "A1", m, 0.91)
    assert item["rule_evidence"]["passed_by"] == "photos"
    assert item["rule_evidence"]["agreeing_photo_ids"] == [p]
    notices = world.db.fetchall("SELECT channel, review_item_id FROM notifications")
    assert notices == [{"channel": "slack", "review_item_id": item["id"]}]
    # the same photos again: nothing new, no second notice
    assert world.decide([p], rules) == []
    assert len(world.items()) == 1
    assert len(world.db.fetchall("SELECT id FROM notifications")) == 1


def test_items_below_the_notify_level_wait_in_the_queue_without_notices(world: World) -> None:
    g1 = world.artefact("A1", jpeg(textured(1)))
    g2 = world.artefact("A2", jpeg(textured(2)))
    _, (p1,) = world.listing("lot-1", [jpeg(restage(textured(1)))])
    _, (p2,) = world.listing("lot-2", [jpeg(restage(textured(2)))])
    world.match(p1, "A1", 0.95, g1)  # above notify: queue + notice
    world.match(p2, "A2", 0.85, g2)  # between review (0.8) and notify (0.9): queue only
    opened = world.decide([p1, p2], AlertRules(threshold=0.8), notify_threshold=0.9)
    items = {i["artefact_id"]: i for i in world.items()}
    assert sorted(opened) == sorted(i["id"] for i in items.values())
    assert items["A1"]["rule_evidence"]["notified"] is True and items["A2"]["rule_evidence"]["notified"] is False
    assert items["A2"]["rule_evidence"]["notify_threshold"] == 0.9
    notices = world.db.fetchall("SELECT review_item_id FROM notifications")
    assert notices == [{"review_item_id": items["A1"]["id"]}]


def test_collection_threshold_and_removed_artefacts(world: World) -> None:
    g1 = world.artefact("STRICT", jpeg(textured(1)), collection="Strict museum")
    g2 = world.artefact("LAX", jpeg(textured(2)), collection="Lax museum")
    g3 = world.artefact("GONE", jpeg(textured(3)), collection="Lax museum")
    world.db.execute("UPDATE artefacts SET removed_at = now() WHERE id = 'GONE'")
    _, (p1,) = world.listing("lot-1", [jpeg(textured(11))])
    _, (p2,) = world.listing("lot-2", [jpeg(textured(12))])
    _, (p3,) = world.listing("lot-3", [jpeg(textured(13))])
    world.match(p1, "STRICT", 0.9, g1)
    world.match(p2, "LAX", 0.9, g2)
    world.match(p3, "GONE", 0.99, g3)
    rules = AlertRules(threshold=0.85, collection_thresholds={"Strict museum": 0.95})
    opened = world.decide([p1, p2, p3], rules)
    assert [i["artefact_id"] for i in world.items()] == ["LAX"]
    assert len(opened) == 1
    assert world.items()[0]["rule_evidence"]["threshold"] == 0.85


def test_top_k_decides_whether_a_second_ranked_artefact_counts(world: World) -> None:
    g1 = world.artefact("A1", jpeg(textured(1)))
    g2 = world.artefact("A2", jpeg(textured(2)))
    _, (p,) = world.listing("lot-1", [jpeg(textured(9))])
    world.match(p, "A1", 0.93, g1, rank=1)
    world.match(p, "A2", 0.90, g2, rank=2)
    world.decide([p], AlertRules(threshold=0.85, top_k=1))
    assert [i["artefact_id"] for i in world.items()] == ["A1"]
    world.decide([p], AlertRules(threshold=0.85, top_k=2))
    assert sorted(i["artefact_id"] for i in world.items()) == ["A1", "A2"]


def test_two_agreeing_photos_are_needed_when_geometry_is_off(world: World) -> None:
    g = world.artefact("A1", jpeg(textured(1)))
    _, (p1, p2) = world.listing("lot-1", [jpeg(textured(21)), jpeg(textured(22))])
    rules = AlertRules(threshold=0.8, min_agreeing_photos=2, geometric_check=False)
    world.match(p1, "A1", 0.9, g)
    assert world.decide([p1], rules) == []  # one photo: held back
    world.match(p2, "A1", 0.84, g)
    opened = world.decide([p2], rules)  # the second photo of the listing agrees: alert
    (item,) = world.items()
    assert opened == [item["id"]] and item["score"] == 0.9
    assert item["rule_evidence"]["agreeing_photo_ids"] == [p1, p2]


def test_geometric_check_stands_in_for_a_second_photo(world: World) -> None:
    g1 = world.artefact("A1", jpeg(textured(1)))
    g2 = world.artefact("A2", jpeg(textured(2)))
    _, (same,) = world.listing("lot-same", [jpeg(restage(textured(1)))])  # A1 photographed again
    _, (other,) = world.listing("lot-other", [jpeg(restage(textured(7)))])  # another object
    world.match(same, "A1", 0.9, g1)
    world.match(other, "A2", 0.9, g2)
    opened = world.decide([same, other], AlertRules(threshold=0.8, min_agreeing_photos=2))
    (item,) = world.items()
    assert opened == [item["id"]] and item["artefact_id"] == "A1"
    geometry = item["rule_evidence"]["geometry"]
    assert item["rule_evidence"]["passed_by"] == "geometry"
    assert geometry["passed"] and geometry["inliers"] >= 30 and geometry["min_inliers"] == 12


def test_relisted_object_links_to_the_earlier_alert(world: World) -> None:
    g = world.artefact("A1", jpeg(textured(1)))
    shared = jpeg(restage(textured(1)))
    first, (p,) = world.listing("lot-1", [shared])
    world.match(p, "A1", 0.9, g)
    rules = AlertRules(threshold=0.8)
    (item_id,) = world.decide([p], rules)
    # relisted elsewhere with the same photo and a new one; then relisted again with the new one only
    fresh = jpeg(restage(textured(1)).rotate(3))
    second, (p_again, p_new) = world.listing("lot-2", [shared, fresh])
    assert p_again == p
    world.match(p_new, "A1", 0.95, g)
    third, (p_new_again,) = world.listing("lot-3", [fresh])
    assert world.decide([p_new], rules) == []
    assert [i["id"] for i in world.items()] == [item_id]
    links = world.db.fetchall(
        "SELECT review_item_id, listing_id, shared_photo_id, score FROM alert_links ORDER BY listing_id"
    )
    assert links == [
        {"review_item_id": item_id, "listing_id": second, "shared_photo_id": p, "score": 0.95},
        {"review_item_id": item_id, "listing_id": third, "shared_photo_id": p_new, "score": 0.95},
    ]
    assert len(world.db.fetchall("SELECT id FROM notifications")) == 1
    assert first != second


def test_two_new_listings_sharing_a_photo_open_one_item(world: World) -> None:
    g = world.artefact("A1", jpeg(textured(1)))
    photo = jpeg(restage(textured(1)))
    l1, (p,) = world.listing("lot-1", [photo])
    l2, _ = world.listing("lot-2", [photo])
    world.match(p, "A1", 0.9, g)
    opened = world.decide([p], AlertRules(threshold=0.8))
    (item,) = world.items()
    assert opened == [item["id"]] and item["listing_id"] == l1
    assert world.db.fetchall("SELECT listing_id FROM alert_links") == [{"listing_id": l2}]
