"""Run each site on its cadence. Simple loop; overlap is refused by the crawl_runs unique index.

Incremental: a listing whose search card shows the price stored, fetched within the site's
``refetch_after``, is not fetched again (see ListingSpider); an unchanged listing's photos are
never fetched again. Each round crawls the due sites in a fresh child process (a Twisted
reactor starts once per process). A run left 'running' by a crashed process is marked failed
once it is older than ``stale_after_s``, so the site is not blocked forever.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from lootwatch.crawlers.run import run_crawl_isolated
from lootwatch.crawlers.sites import SiteConfig
from lootwatch.crawlers.store import CrawlStats

from lootwatch.core.db import Database
from lootwatch.core.settings import Settings

log = logging.getLogger(__name__)


def due_sites(db: Database, sites: list[SiteConfig], now: datetime | None = None) -> list[SiteConfig]:
    """Sites whose last run started at least one cadence ago (or never ran) and none is running."""
    now = now or datetime.now(UTC)
    rows = db.fetchall(
        """SELECT s.name, max(r.started_at) AS last_start, bool_or(r.status = 'running') AS running
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


def run_scheduler(
    settings: Settings,
    database_url: str,
    redis_url: str,
    sites: list[SiteConfig],
    *,
    tick_s: float = 30.0,
    stale_after_s: float = 6 * 3600,
    once: bool = False,
    rounds: int | None = None,
    report: Callable[[list[CrawlStats]], None] | None = None,
) -> None:
    """Check for due sites every ``tick_s`` and crawl them; forever, or ``rounds`` checks (``once``: 1)."""
    db = Database(database_url)
    rounds = 1 if once else rounds
    done = 0
    while True:
        fail_stale_runs(db, stale_after_s)
        due = due_sites(db, sites)
        if due:
            log.info("crawling %s", ", ".join(s.name for s in due))
            try:
                results = run_crawl_isolated(settings, database_url, redis_url, due, timeout_s=stale_after_s)
                if report:
                    report(results)
            except (RuntimeError, TimeoutError) as exc:  # one bad round never stops the scheduler
                log.error("%s", exc)
        done += 1
        if rounds is not None and done >= rounds:
            return
        time.sleep(tick_s)
