"""Put each site's crawl on the ``crawl`` queue on its cadence; crawl workers run them.

The scheduler only schedules: ``lootwatch crawl-worker`` processes, on this machine or others,
take the jobs (see :mod:`lootwatch.crawlers.jobs`). A site is due when its last run (refusals
aside) started at least one cadence ago and none is running; a due site whose job is already
queued or running is not queued twice. Incremental: a listing whose search card shows the price
stored, fetched within the site's ``refetch_after``, is not fetched again (see ListingSpider). A
run left 'running' by a crashed process is marked failed once it is older than ``stale_after_s``,
so the site is not blocked forever.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from lootwatch.crawlers.crawl_queue import Enqueued, crawl_queue, enqueue_crawl
from lootwatch.crawlers.sites import SiteConfig
from redis import Redis
from rq import Queue

from lootwatch.core.db import Database

log = logging.getLogger(__name__)


def due_sites(db: Database, sites: list[SiteConfig], now: datetime | None = None) -> list[SiteConfig]:
    """Sites whose last run started at least one cadence ago (or never ran) and none is running."""
    now = now or datetime.now(UTC)
    rows = db.fetchall(
        """SELECT s.name, max(r.started_at) FILTER (WHERE r.status <> 'refused') AS last_start,
                  bool_or(r.status = 'running') AS running
           FROM sources s LEFT JOIN crawl_runs r ON r.source_id = s.id GROUP BY s.name"""
    )
    last = {r["name"]: r for r in rows}
    due = []
    for site in sites:
        r = last.get(site.name)
        if r is None or r["last_start"] is None:
            due.append(site)
        elif not r["running"] and (now - r["last_start"]).total_seconds() >= site.cadence_s:
            due.append(site)
    return due


def fail_stale_runs(db: Database, stale_after_s: float) -> None:
    db.execute(
        """UPDATE crawl_runs SET status = 'failed', finished_at = now(), note = 'stale: process gone'
           WHERE status = 'running' AND started_at < now() - make_interval(secs => %s)""",
        (stale_after_s,),
    )


def schedule_due(db: Database, queue: Queue, sites: list[SiteConfig], timeout_s: float) -> list[Enqueued]:
    """Queue a crawl of every due site (one tick of the scheduler)."""
    return [enqueue_crawl(queue, site.name, timeout_s) for site in due_sites(db, sites)]


def run_scheduler(
    database_url: str,
    redis_url: str,
    sites: list[SiteConfig],
    *,
    tick_s: float = 30.0,
    stale_after_s: float = 6 * 3600,
    once: bool = False,
    rounds: int | None = None,
    report: Callable[[list[Enqueued]], None] | None = None,
) -> None:
    """Every ``tick_s``, queue the crawls of due sites; forever, or ``rounds`` ticks (``once``: 1).
    A crawl may run ``stale_after_s`` before its run counts as stale."""
    db = Database(database_url)
    queue = crawl_queue(Redis.from_url(redis_url))
    rounds = 1 if once else rounds
    done = 0
    while True:
        fail_stale_runs(db, stale_after_s)
        outcomes = schedule_due(db, queue, sites, timeout_s=stale_after_s)
        for o in outcomes:
            log.info("%s", f"queued crawl of {o.site}" if o.queued else o.why)
        if report and outcomes:
            report(outcomes)
        done += 1
        if rounds is not None and done >= rounds:
            return
        time.sleep(tick_s)
