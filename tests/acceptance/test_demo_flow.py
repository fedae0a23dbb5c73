"""The demo flow end to end on the embedded (or URL-named) servers, with real Chromium, twice over:
a worker SIGKILLed mid-run and restarted gives the same alerts as an undisturbed run, with no
duplicate review item or notice."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from lootwatch.core.queueing import MATCH_JOB, photo_queue
from lootwatch.core.services import ServiceUrls
from lootwatch.core.settings import Settings
from lootwatch.demo import run as demo
from lootwatch.demo.sinks import LocalSinks

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.browser, pytest.mark.slow]


def _alerts(run: demo.DemoRun) -> set[tuple[str, str]]:
    rows = run.db.fetchall("SELECT l.url, r.artefact_id FROM review_items r JOIN listings l ON l.id = r.listing_id")
    return {(r["url"].rsplit("/", 1)[-1], r["artefact_id"]) for r in rows}


def _matched(run: demo.DemoRun) -> int:
    row = run.db.fetchone("SELECT count(*) AS n FROM listing_photos WHERE status <> 'queued'")
    return int(row["n"]) if row else 0


def test_demo_alerts_survive_a_killed_worker(database_url: str, _redis_server: str, tmp_path: Path) -> None:
    # the descriptor as shipped: five gallery fine-tunings would take minutes (test_index_fine_tune covers them)
    base = Settings(data_dir=tmp_path / "data", batch_size=2, requeue_after_s=1.0, fine_tune_steps=0)
    urls = ServiceUrls(database_url, _redis_server)
    quiet = lambda _msg: None  # noqa: E731

    run = demo.prepare(base, urls, quiet)
    assert demo.crawl(run, quiet) > 10
    # photos, not jobs: a job id is a photo's sha256, and one left 'started' by a killed worker
    # elsewhere is not queued twice (the sweeper re-queues its photo instead)
    row = run.db.fetchone("SELECT count(*) AS n FROM listing_photos")
    queued = int(row["n"]) if row else 0

    with LocalSinks() as sinks:
        run.settings = demo.with_sinks(run.settings, sinks)
        worker = demo.start_workers(run, 1)
        deadline = time.monotonic() + 180
        while _matched(run) == 0 and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert worker.poll() is None, "the worker finished before it could be killed"
        os.kill(worker.pid, signal.SIGKILL)  # one process: `lootwatch worker --processes 1` runs in it
        worker.wait()
        partial = _matched(run)
        assert 0 < partial < queued
        time.sleep(1.2)  # past requeue_after_s: the restarted worker re-queues the killed job's photos
        assert demo.start_workers(run, 1).wait(timeout=300) == 0
        outcome = demo.finish(run, quiet)
        killed_alerts = _alerts(run)

    # every photo matched once; one review item per (listing, artefact); two notices per item
    assert _matched(run) == queued
    dup = run.db.fetchall("SELECT photo_id FROM matches WHERE rank = 1 GROUP BY photo_id HAVING count(*) > 1")
    assert dup == []
    n_items = len(run.db.fetchall("SELECT id FROM review_items"))
    assert n_items == len(killed_alerts)
    # notices (an e-mail and a Slack message) go out only for items at the index's notify level
    notified = run.db.fetchall("SELECT id FROM review_items WHERE (rule_evidence->>'notified')::boolean")
    assert outcome.stages["notices sent"] == 2 * len(notified)

    # the same alerts as an undisturbed run over the same photos
    with run.db.transaction() as conn:
        # decisions refuse TRUNCATE by trigger; the test resets its own demo database as its superuser
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute("TRUNCATE alert_links, hard_negatives, notifications, decisions, review_items, matches")
        conn.execute("UPDATE listing_photos SET status = 'queued', matched_at = NULL")
    queue = photo_queue(run.settings.redis_url or "", run.settings.queue_name)
    for row in run.db.fetchall("SELECT id, sha256 FROM listing_photos"):
        queue.enqueue(MATCH_JOB, row["id"], job_id=f"{row['sha256']}-undisturbed")
    assert demo.start_workers(run, 1).wait(timeout=300) == 0
    assert _alerts(run) == killed_alerts

    # against the answer key: no protected lot is alerted with a wrong artefact, and at least 4 in 5 are
    # alerted. The bar (every protected lot, no unprotected one) is met by `make demo`, which
    # fine-tunes on the gallery; this run uses the shipped descriptor, which gives 4 of 5 and 2 false alerts
    # (README, "The demo"): a floor against regressions, not the bar.
    expected = {(lot, art) for lot, art in run.answers.items() if art}
    protected_lots = {lot for lot, _ in expected}
    alerted_protected = {(lot, art) for lot, art in killed_alerts if lot in protected_lots}
    assert alerted_protected <= expected
    assert len(alerted_protected) >= 0.8 * len(expected)
