"""Rows the alerts tests need, inserted with plain SQL (and a test that they are what show_item sees)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lootwatch.core.db import Conn, Database


@dataclass(frozen=True)
class Seeded:
    item_id: int
    listing_id: int
    artefact_id: str
    photo_id: int
    gallery_photo_id: int
    match_id: int


def _id(conn: Conn, sql: str, params: tuple) -> int:
    row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return int(row["id"])  # type: ignore[call-overload]


def seed_item(
    db: Database,
    n: int = 1,
    *,
    title: str = "Bronze figure of a deity",
    score: float = 0.91,
    site: str = "example",
    collection: str = "Museum A",
    state: str = "new",
) -> Seeded:
    """One source/artefact/listing/photo/match/review item; ``n`` keeps ids and hashes apart."""
    with db.transaction() as conn:
        source = _id(
            conn,
            """INSERT INTO sources (name, base_url) VALUES (%s, %s)
               ON CONFLICT (name) DO UPDATE SET base_url = EXCLUDED.base_url RETURNING id""",
            (site, f"https://{site}.test"),
        )
        artefact = f"A{n:04d}"
        conn.execute(
            "INSERT INTO artefacts (id, title, collection, provenance) VALUES (%s, %s, %s, %s)",
            (artefact, f"Stolen bronze {n}", collection, f"theft report TR-{n}"),
        )
        gallery = _id(
            conn,
            """INSERT INTO artefact_photos (artefact_id, sha256, stored_path, source_name, width, height)
               VALUES (%s, %s, %s, 'front.jpg', 128, 128) RETURNING id""",
            (artefact, f"{n:064x}", f"gallery/{n:02x}/{n:064x}.jpg"),
        )
        listing = _id(
            conn,
            """INSERT INTO listings (source_id, url, item_id, title, price_text, amount, currency, seller)
               VALUES (%s, %s, %s, %s, '€ 1.200', 1200, 'EUR', 'dealer') RETURNING id""",
            (source, f"https://{site}.test/lot/{n}", f"lot-{n}", title),
        )
        photo = _id(
            conn,
            """INSERT INTO listing_photos (sha256, source_url, stored_path, bytes, width, height, status)
               VALUES (%s, %s, %s, 1000, 128, 128, 'matched') RETURNING id""",
            (f"{n + 10**6:064x}", f"https://{site}.test/img/{n}.jpg", f"photos/{n:02x}/{n}.jpg"),
        )
        conn.execute("INSERT INTO listing_photo_links (listing_id, photo_id) VALUES (%s, %s)", (listing, photo))
        conn.execute(
            """INSERT INTO page_snapshots (listing_id, url, sha256, stored_path, http_status)
               VALUES (%s, %s, %s, 'pages/x.html.gz', 200)""",
            (listing, f"https://{site}.test/lot/{n}", f"{n + 2 * 10**6:064x}"),
        )
        match = _id(
            conn,
            """INSERT INTO matches (photo_id, artefact_id, rank, score, scores, best_gallery_photo_id,
                                    model_version, index_version)
               VALUES (%s, %s, 1, %s, %s, %s, 'pan-0123456789ab', 'idx-1') RETURNING id""",
            (photo, artefact, score, f'{{"descriptor": {score}}}', gallery),
        )
        item = _id(
            conn,
            """INSERT INTO review_items (listing_id, artefact_id, best_match_id, score, state)
               VALUES (%s, %s, %s, %s, %s) RETURNING id""",
            (listing, artefact, match, score, state),
        )
    return Seeded(item, listing, artefact, photo, gallery, match)


@pytest.mark.postgres
def test_seeded_item_is_shown_with_its_evidence(db: Database) -> None:
    from lootwatch.alerts.review import show_item

    s = seed_item(db, 3, title="Vase <script>x</script>")
    shown = show_item(db, s.item_id)
    assert shown["item"]["state"] == "new"
    assert shown["listing"]["title"] == "Vase <script>x</script>"
    assert shown["listing"]["site"] == "example"
    assert shown["listing"]["url"] == "https://example.test/lot/3"
    assert shown["artefact"]["id"] == "A0003"
    assert [m["id"] for m in shown["matches"]] == [s.match_id]
    assert shown["matches"][0]["scores"] == {"descriptor": 0.91}
    assert shown["matches"][0]["gallery_stored_path"].startswith("gallery/")
    assert [p["id"] for p in shown["listing_photos"]] == [s.photo_id]
    assert [p["id"] for p in shown["artefact_photos"]] == [s.gallery_photo_id]
    assert len(shown["snapshots"]) == 1 and len(shown["snapshots"][0]["sha256"]) == 64
    assert shown["decisions"] == [] and shown["notifications"] == []
