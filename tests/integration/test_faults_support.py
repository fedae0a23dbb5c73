"""Shared set-up of the fault and bad-input tests (no tests here): a small real gallery and index."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from lootwatch.db import Database
from lootwatch.gallery import import_gallery
from lootwatch.indexing import build_and_publish
from lootwatch.settings import Settings
from lootwatch.storage import BlobStore
from tests.integration.pipeline_helpers import coil_view

PROTECTED = (2, 5, 9)


def make_pipeline(
    db: Database, redis_url: str, tmp_path: Path, shared_dir: Path, **overrides: Any
) -> Settings:
    """Settings on tmp_path with a published index of 3 protected coil objects (4 views each)."""
    gallery = tmp_path / "gallery"
    for obj in PROTECTED:
        for angle in (0, 90, 180, 270):
            dest = gallery / f"ART-{obj:03d}" / f"{angle:03d}.png"
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(coil_view(shared_dir, obj, angle).read_bytes())
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": db.url,
        "redis_url": redis_url,
        "queue_name": f"test-{uuid.uuid4().hex[:8]}",
        "descriptor": "imagenet-lite0-gem",
        "batch_size": 4,
        "requeue_after_s": 0.5,
        "email_to": ["police@example.org"],
        "slack_webhook_url": "http://127.0.0.1:9/hook",
        "smtp_host": "127.0.0.1",
    }
    settings = Settings(**{**values, **overrides})
    import_gallery(db, BlobStore(settings.store_dir), gallery, max_bytes=10**7, max_pixels=10**7)
    build_and_publish(db, settings, progress=False)
    return settings


def insert_raw_photo(
    db: Database, settings: Settings, item_id: str, data: bytes, *, suffix: str = ".jpg"
) -> int:
    """A queued listing photo whose stored bytes are whatever is given (no vetting on the way in)."""
    _sha, rel = BlobStore(settings.store_dir).put("photos", data, suffix)
    with db.transaction() as conn:
        src = conn.execute(
            "INSERT INTO sources (name) VALUES ('raw')"
            " ON CONFLICT (name) DO UPDATE SET name = 'raw' RETURNING id"
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
