"""SIGKILL a worker in the middle of a batch, 20 times: nothing is lost, nothing is done twice."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from lootwatch.core.db import Database
from lootwatch.core.queueing import photo_queue
from tests.integration.pipeline_helpers import make_pipeline, start_worker, worker_context
from tests.integration.test_faults_support import add_photos, in_batch, outcome

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

KILLS = 20


def _matched(db: Database) -> int:
    return int(db.fetchone("SELECT count(*) AS n FROM listing_photos WHERE status <> 'queued'")["n"])  # type: ignore[index]


@pytest.mark.timeout(420)
def test_twenty_sigkills_mid_batch_lose_and_duplicate_nothing(
    db: Database, redis_url: str, tmp_path: Path, shared_dir: Path
) -> None:
    worker_context()  # the workers' fork server imports torch while the gallery is indexed here
    settings = make_pipeline(db, redis_url, tmp_path, shared_dir, batch_size=2, requeue_after_s=0.3)
    # 96 photos: a life commits a batch or two before its kill (pipelined), so 20 kills need plenty
    total = add_photos(db, settings, shared_dir, (2, 9, 14, 17), range(5, 125, 5))

    kills = mid_batch = lives = 0
    started = time.monotonic()
    deadline = started + 300
    while kills < KILLS and _matched(db) < total and time.monotonic() < deadline:
        before = _matched(db)
        worker = start_worker(settings)
        lives += 1
        # let each life commit one batch (progress), then kill it inside its next one
        while worker.is_alive() and _matched(db) == before and time.monotonic() < deadline:
            time.sleep(0.02)
        while worker.is_alive() and not in_batch(db) and time.monotonic() < deadline:
            time.sleep(0.005)
        if worker.is_alive():
            mid_batch += in_batch(db)
            os.kill(worker.pid or 0, signal.SIGKILL)
            kills += 1
        worker.join()
        # no wait before the next life: the sweep re-queues a photo still 'queued' fetched over
        # requeue_after_s ago (all of these, long before the first kill) whose job's worker pid is
        # gone (this one, joined), so the next life's start-up sweep re-queues the killed job
    killing_s = time.monotonic() - started

    final = start_worker(settings)  # an undisturbed worker drains what is left
    final.join(timeout=180)
    counts = outcome(db)
    queue = photo_queue(settings.redis_url or "", settings.queue_name)
    print(
        f"\nfault/sigkill: kills={kills} mid_batch={mid_batch} lives={lives + 1} photos={total} "
        f"{counts} queue_left={queue.count} killing_s={killing_s:.0f}"
    )
    assert final.exitcode == 0
    assert kills == KILLS and mid_batch >= KILLS * 3 // 4
    assert counts["matched"] == total and counts["queued"] == 0 and counts["rejected"] == 0
    assert counts["duplicate_matches"] == 0 and counts["duplicate_review_items"] == 0
    assert counts["review_items"] > 0 and counts["notices"] == 2 * counts["review_items"]
    assert queue.count == 0
