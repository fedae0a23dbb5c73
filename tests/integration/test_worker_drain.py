"""One job drains the queue in pipelined batches: the next batch is claimed while the last one is
written, the jobs of photos it matched are dropped from the queue, and nothing is matched twice."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from rq.registry import FinishedJobRegistry

from lootwatch.core.db import Database
from lootwatch.core.queueing import photo_queue
from lootwatch.core.storage import BlobStore
from tests.integration.pipeline_helpers import add_listing, coil_view, make_pipeline, restaged, start_worker

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def test_one_job_drains_the_queue_and_drops_the_jobs_it_made_redundant(
    db: Database, redis_url: str, tmp_path: Path, shared_dir: Path
) -> None:
    settings = make_pipeline(db, redis_url, tmp_path, shared_dir, batch_size=2)
    for obj in (5, 14, 17):
        add_listing(db, settings, f"lot-{obj}", [restaged(coil_view(shared_dir, obj, a), seed=a) for a in (40, 50)])
    queue = photo_queue(settings.redis_url or "", settings.queue_name)
    assert queue.count == 6

    worker = start_worker(settings)
    worker.join(timeout=240)
    assert worker.exitcode == 0

    rows = db.fetchall("SELECT status, matched_at FROM listing_photos")
    assert [r["status"] for r in rows] == ["matched"] * 6
    assert len({r["matched_at"] for r in rows}) == 3  # three batches of two, each stamped when written
    dup = db.fetchall("SELECT photo_id FROM matches WHERE rank = 1 GROUP BY photo_id HAVING count(*) > 1")
    assert dup == []
    # the first job matched all three batches; the other five jobs were dropped, never run
    assert queue.count == 0
    assert FinishedJobRegistry(queue=queue).count == 1


def test_a_relisting_link_to_a_photo_the_next_batch_holds_does_not_block_the_pipeline(
    db: Database, redis_url: str, tmp_path: Path, shared_dir: Path
) -> None:
    """Batch k's alert writes reference (foreign key) a photo that batch k+1 has already claimed."""
    from lootwatch.workers.context import WorkerContext
    from lootwatch.workers.engine import MatchEngine
    from lootwatch.workers.matching import match_batch

    torch.set_num_threads(1)
    settings = make_pipeline(db, redis_url, tmp_path, shared_dir, batch_size=1)
    ctx = WorkerContext(
        settings, db, BlobStore(settings.store_dir), MatchEngine(settings.descriptor, settings.index_dir)
    )
    first, (p0,) = add_listing(db, settings, "first", [restaged(coil_view(shared_dir, 5, 40), seed=40)])
    assert match_batch(ctx, p0).review_items  # ART-005 alerted on the first listing

    later, (p1, p2) = add_listing(
        db,
        settings,
        "later",
        [restaged(coil_view(shared_dir, 5, 50), seed=50), restaged(coil_view(shared_dir, 14, 130), seed=130)],
    )
    # the first listing shows the later listing's second photo too: "later" is a relisting of it
    db.execute("INSERT INTO listing_photo_links (listing_id, photo_id) VALUES (%s, %s)", (first, p2))

    # batch 1 = p1, whose alert rule links "later" to the first alert through p2 = batch 2
    result = match_batch(ctx, p1)
    assert (result.batches, sorted(result.matched)) == (2, sorted([p1, p2]))
    links = db.fetchall("SELECT listing_id, shared_photo_id FROM alert_links")
    assert links == [{"listing_id": later, "shared_photo_id": p2}]
    assert db.fetchall("SELECT listing_id FROM review_items") == [{"listing_id": first}]
