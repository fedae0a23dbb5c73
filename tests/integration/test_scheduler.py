"""The scheduler and a crawl worker against a local fixture site, real Postgres and Redis: cadence, no
overlap, incremental."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lootwatch.crawlers.crawl_queue import Enqueued, crawl_queue
from lootwatch.crawlers.scheduler import due_sites, fail_stale_runs, run_scheduler
from lootwatch.crawlers.sites import SiteConfig
from lootwatch.crawlers.store import CrawlStats
from redis import Redis
from rq.job import Job
from rq.serializers import JSONSerializer

from lootwatch.core.db import Database
from tests.fixtures.crawlers import site_server as _server
from tests.integration.crawl_worker_helpers import start_crawl_worker, worker_env, write_sites

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

SELECTORS = {
    "result_links": "a.lot-link::attr(href)",
    "next_page": "a[rel=next]::attr(href)",
    "title": "h1.lot-title::text",
    "price": "span.lot-price::text",
    "seller": "span.lot-seller::text",
    "photos": "div.lot-gallery a::attr(href)",
}


def _site(base: str, cadence: str = "1s") -> SiteConfig:
    return SiteConfig("plain", [f"{base}/plain/index.html"], selectors=SELECTORS, allow_private=True, cadence=cadence)


def _reprice(root: Path, old: str, new: str) -> None:
    """The seller changes lot-101's price: on its page and on its search card."""
    for rel in ("plain/index.html", "plain/lot-101.html"):
        page = root / rel
        page.write_text(page.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


def _crawl_queued(env: dict[str, str], log: Path) -> list[CrawlStats]:
    """Run the queued crawls with a burst `lootwatch crawl-worker`; their results, in queue order."""
    redis = Redis.from_url(env["LOOTWATCH_REDIS_URL"])
    ids = crawl_queue(redis).job_ids
    worker = start_crawl_worker(env, "crawler", burst=True, log=log)
    assert worker.wait(timeout=240) == 0, log.read_text()
    jobs = Job.fetch_many(ids, connection=redis, serializer=JSONSerializer)
    return [CrawlStats(**(j.return_value() or {})) for j in jobs if j is not None]


def test_two_ticks_two_runs_incremental_and_price_history(db: Database, redis_url: str, tmp_path: Path) -> None:
    root = _server.build_site(tmp_path / "site")
    with _server.serve(root) as (base, requested):
        sites_file = write_sites(
            tmp_path / "sites.toml",
            {
                "plain": {
                    "start_urls": [f"{base}/plain/index.html"],
                    "allow_private": True,
                    "cadence": "1s",
                    "download_delay": 0.0,
                    "selectors": dict(SELECTORS),
                }
            },
        )
        env = worker_env(db.url, redis_url, tmp_path / "data", sites_file)
        queued: list[list[Enqueued]] = []
        rounds: list[list[CrawlStats]] = []
        marks: list[int] = []
        for tick in range(2):
            if tick:
                time.sleep(1.2)  # the site's cadence
            run_scheduler(db.url, redis_url, [_site(base)], once=True, report=queued.append)
            run_scheduler(db.url, redis_url, [_site(base)], once=True, report=queued.append)  # nothing new
            rounds.append(_crawl_queued(env, tmp_path / f"worker-{tick}.log"))
            marks.append(len(requested))
            if tick == 0:
                _reprice(root, "EUR 1,200", "EUR 1,350")

    # each tick queued the due site once; the second look in the same tick found its job waiting
    assert [[(o.site, o.queued) for o in q] for q in queued] == [[("plain", True)], [("plain", False)]] * 2
    assert queued[1][0].why == "a crawl of 'plain' is already queued"
    runs = db.fetchall("SELECT status, pages, listings FROM crawl_runs ORDER BY id")
    assert [r["status"] for r in runs] == ["finished", "finished"]  # two ticks, two runs
    assert [len(r) for r in rounds] == [1, 1]
    first, second = rounds[0][0], rounds[1][0]
    assert first.listings == 3 and first.listings_changed == 3 and first.photos_new == 3

    # second run: lot-102's card is unchanged -> its page is not fetched again; lot-103's card shows
    # no price -> fetched, unchanged; lot-101's card shows a new price -> fetched, changed
    again = requested[marks[0] :]
    assert "/plain/lot-102.html" not in again and "/plain/lot-103.html" in again
    assert "/plain/lot-101.html" in again
    assert second.listings == 3 and second.listings_skipped == 1 and second.listings_changed == 1
    assert second.photos_new == 0  # lot-101's photos are known: linked, not queued again
    assert not any(p.startswith("/img/") and "blue" in p for p in again)  # unchanged lot-103: no photos
    photos = [r["status"] for r in db.fetchall("SELECT status FROM listing_photos")]
    assert sorted(photos) == ["queued", "queued", "queued", "rejected"]  # stored once (one corrupt)

    history = db.fetchall(
        "SELECT l.item_id, h.field, h.old_value, h.new_value FROM listing_history h"
        " JOIN listings l ON l.id = h.listing_id"
    )
    assert history == [
        {"item_id": "lot-101", "field": "price_text", "old_value": "EUR 1,200", "new_value": "EUR 1,350"}
    ]
    row = db.fetchone("SELECT amount, last_seen, first_seen FROM listings WHERE item_id = 'lot-102'")
    assert row is not None and row["last_seen"] > row["first_seen"]  # seen on its card, not re-fetched
    # every fetch of an item page is a snapshot: 3 in the first run, 2 in the second
    assert db.fetchone("SELECT count(*) AS n FROM page_snapshots")["n"] == 5  # type: ignore[index]


def test_overlapping_run_is_not_started_and_stale_run_is_released(db: Database) -> None:
    site = _site("http://127.0.0.1:9", cadence="1h")
    assert due_sites(db, [site]) == [site]  # never ran
    db.execute("INSERT INTO sources (name) VALUES ('plain')")
    db.execute("INSERT INTO crawl_runs (source_id) SELECT id FROM sources WHERE name = 'plain'")
    assert due_sites(db, [site]) == []  # running: a second run would overlap
    with pytest.raises(Exception, match="crawl_runs_one_running"):  # the database refuses it too
        db.execute("INSERT INTO crawl_runs (source_id) SELECT id FROM sources WHERE name = 'plain'")

    fail_stale_runs(db, stale_after_s=3600)  # a fresh run is left alone
    assert db.fetchone("SELECT status FROM crawl_runs")["status"] == "running"  # type: ignore[index]
    db.execute("UPDATE crawl_runs SET started_at = now() - interval '2 hours'")
    fail_stale_runs(db, stale_after_s=3600)
    assert db.fetchone("SELECT status FROM crawl_runs")["status"] == "failed"  # type: ignore[index]
    assert due_sites(db, [site]) == [site]  # last start 2 h ago, cadence 1 h
    # a refused run (its site was running) is recorded, but is not the site's last run
    db.execute("INSERT INTO crawl_runs (source_id, status, note) SELECT id, 'refused', 'already running' FROM sources")
    assert due_sites(db, [site]) == [site]
    later = datetime.now(UTC)
    db.execute("UPDATE crawl_runs SET started_at = %s WHERE status <> 'refused'", (later,))
    assert due_sites(db, [site], now=later) == []  # just ran: not due before its cadence
