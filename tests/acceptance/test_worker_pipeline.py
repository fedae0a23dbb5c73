"""Queue -> worker -> matches -> review items -> notices, on real Postgres, Redis, photos and weights."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from lootwatch.core.db import Database
from lootwatch.core.queueing import photo_queue
from lootwatch.core.settings import Settings
from lootwatch.core.storage import BlobStore
from tests.integration.pipeline_helpers import add_listing, coil_view, make_pipeline, restaged, start_worker

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

UNPROTECTED = (14, 17)


@pytest.fixture
def pipeline(db: Database, redis_url: str, tmp_path: Path, shared_dir: Path) -> Settings:
    return make_pipeline(db, redis_url, tmp_path, shared_dir, smtp_port=2525)


def _listing_photos(shared: Path, obj: int, angles: tuple[int, ...]) -> list[bytes]:
    return [restaged(coil_view(shared, obj, a), seed=a) for a in angles]


def test_photos_are_matched_once_and_protected_listings_alerted(
    pipeline: Settings, db: Database, shared_dir: Path
) -> None:
    hit, _ = add_listing(db, pipeline, "hit", _listing_photos(shared_dir, 5, (40, 50)))
    miss, _ = add_listing(db, pipeline, "miss", _listing_photos(shared_dir, 14, (40, 130)))
    relist, _ = add_listing(db, pipeline, "relist", _listing_photos(shared_dir, 5, (40,)))  # same photo again
    assert len(photo_queue(pipeline.redis_url or "", pipeline.queue_name)) == 4  # the relisted photo not re-queued

    worker = start_worker(pipeline)
    worker.join(timeout=240)
    assert worker.exitcode == 0

    photos = db.fetchall("SELECT status, count(*) AS n FROM listing_photos GROUP BY status")
    assert {r["status"]: r["n"] for r in photos} == {"matched": 4}
    per_photo = db.fetchall("SELECT photo_id, count(*) AS n FROM matches WHERE rank = 1 GROUP BY photo_id")
    assert len(per_photo) == 4 and all(r["n"] == 1 for r in per_photo)

    items = {(r["listing_id"], r["artefact_id"]) for r in db.fetchall("SELECT * FROM review_items")}
    assert (hit, "ART-005") in items
    # a relisting (same photo, new listing) links to the earlier alert instead of opening a new one
    assert (relist, "ART-005") not in items
    links = db.fetchall(
        "SELECT r.listing_id FROM alert_links k JOIN review_items r ON r.id = k.review_item_id WHERE k.listing_id = %s",
        (relist,),
    )
    assert [r["listing_id"] for r in links] == [hit]
    assert all(listing != miss for listing, _ in items), "an unprotected object was alerted"
    notices = db.fetchall("SELECT channel, idempotency_key FROM notifications")
    assert sorted(n["channel"] for n in notices) == sorted(["email", "slack"] * len(items))

    # running the same jobs again changes nothing (idempotent)
    from lootwatch.workers.context import WorkerContext, install
    from lootwatch.workers.engine import MatchEngine
    from lootwatch.workers.matching import match_batch

    ctx = WorkerContext(
        pipeline, db, BlobStore(pipeline.store_dir), MatchEngine(pipeline.descriptor, pipeline.index_dir)
    )
    install(ctx)
    for row in db.fetchall("SELECT id FROM listing_photos"):
        assert match_batch(ctx, row["id"]).status == "already-matched"
    assert len(db.fetchall("SELECT id FROM review_items")) == len(items)


def test_sigkilled_worker_loses_and_duplicates_nothing(pipeline: Settings, db: Database, shared_dir: Path) -> None:
    angles = (10, 20, 30, 40, 50, 60)
    for obj in (2, 9, 17):
        add_listing(db, pipeline, f"k{obj}", _listing_photos(shared_dir, obj, angles))
    total = 3 * len(angles)

    kills = 0
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        done = db.fetchone("SELECT count(*) AS n FROM listing_photos WHERE status <> 'queued'")["n"]  # type: ignore[index]
        if done == total:
            break
        worker = start_worker(pipeline)
        if kills < 3:
            # let it load the model and get into a batch, then kill it without warning
            while worker.is_alive() and time.monotonic() < deadline:
                time.sleep(0.2)
                now = db.fetchone("SELECT count(*) AS n FROM listing_photos WHERE status <> 'queued'")["n"]  # type: ignore[index]
                if now > done:
                    break
            if worker.is_alive():
                os.kill(worker.pid or 0, signal.SIGKILL)
                kills += 1
            worker.join()
            time.sleep(0.6)  # past requeue_after_s: the next worker's sweeper re-queues lost jobs
        else:
            worker.join(timeout=240)

    assert kills >= 1
    rows = db.fetchall("SELECT status, count(*) AS n FROM listing_photos GROUP BY status")
    assert {r["status"]: r["n"] for r in rows} == {"matched": total}
    dup = db.fetchall("SELECT photo_id FROM matches WHERE rank = 1 GROUP BY photo_id HAVING count(*) > 1")
    assert dup == []
    items = db.fetchall("SELECT listing_id, artefact_id FROM review_items")
    assert len(items) == len({(r["listing_id"], r["artefact_id"]) for r in items})
    notices = db.fetchall("SELECT idempotency_key FROM notifications")
    assert len(notices) == 2 * len(items)
