"""Shared set-up of the fault and bad-input tests (no tests here): a small real gallery and index."""

from __future__ import annotations

import uuid
from pathlib import Path

from lootwatch.core.db import Database
from lootwatch.core.settings import Settings
from lootwatch.core.storage import BlobStore
from tests.integration.pipeline_helpers import coil_view


def insert_raw_photo(db: Database, settings: Settings, item_id: str, data: bytes, *, suffix: str = ".jpg") -> int:
    """A queued listing photo whose stored bytes are whatever is given (no vetting on the way in)."""
    _sha, rel = BlobStore(settings.store_dir).put("photos", data, suffix)
    with db.transaction() as conn:
        src = conn.execute(
            "INSERT INTO sources (name) VALUES ('raw') ON CONFLICT (name) DO UPDATE SET name = 'raw' RETURNING id"
        ).fetchone()
        listing = conn.execute(
            "INSERT INTO listings (source_id, url, item_id) VALUES (%s, %s, %s) RETURNING id",
            (src["id"], f"http://127.0.0.1/lot/{item_id}", item_id),  # type: ignore[index]
        ).fetchone()
        row = conn.execute(
            """INSERT INTO listing_photos (sha256, source_url, stored_path, bytes)
               VALUES (%s, %s, %s, %s) RETURNING id""",
            (uuid.uuid4().hex, f"http://127.0.0.1/p/{item_id}", rel, len(data)),
        ).fetchone()
        conn.execute(
            "INSERT INTO listing_photo_links (listing_id, photo_id) VALUES (%s, %s)",
            (listing["id"], row["id"]),  # type: ignore[index]
        )
    return int(row["id"])  # type: ignore[index]


def add_photos(db: Database, settings: Settings, shared_dir: Path, objects: tuple[int, ...], angles: range) -> int:
    """Listings of distinct restaged coil views, 4 photos each, queued as the crawler queues them."""
    from tests.integration.pipeline_helpers import add_listing, restaged

    photos = [restaged(coil_view(shared_dir, obj, a), seed=a) for obj in objects for a in angles]
    for i in range(0, len(photos), 4):
        add_listing(db, settings, f"lot-{i}", photos[i : i + 4])
    return len(photos)


def outcome(db: Database) -> dict[str, int]:
    """Counts the fault tests assert: photo states, duplicate matches / items / notices."""
    states = {r["status"]: r["n"] for r in db.fetchall("SELECT status, count(*) AS n FROM listing_photos GROUP BY 1")}
    dup_matches = db.fetchall("SELECT photo_id FROM matches WHERE rank = 1 GROUP BY photo_id HAVING count(*) > 1")
    items = db.fetchall("SELECT listing_id, artefact_id FROM review_items")
    notices = db.fetchone("SELECT count(*) AS n FROM notifications")
    return {
        "matched": states.get("matched", 0),
        "queued": states.get("queued", 0),
        "rejected": states.get("rejected", 0),
        "duplicate_matches": len(dup_matches),
        "review_items": len(items),
        "duplicate_review_items": len(items) - len({(r["listing_id"], r["artefact_id"]) for r in items}),
        "notices": int(notices["n"]) if notices else 0,
    }


def in_batch(db: Database) -> bool:
    """A worker holds claimed photo rows in an open transaction (it is embedding a batch).

    Claims lock ``FOR NO KEY UPDATE`` (the pipelined worker), the own photo of old workers ``FOR UPDATE``.
    """
    row = db.fetchone(
        """SELECT count(*) AS n FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid()
             AND state LIKE 'idle in transaction%' AND query ILIKE '%listing_photos%FOR%UPDATE%'"""
    )
    return bool(row and row["n"])
