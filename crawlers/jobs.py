"""The crawl job and the crawl worker that runs it (``lootwatch crawl-worker``).

Any number of crawl workers, on any machines sharing the PostgreSQL, the Redis and the data dir,
take jobs off the ``crawl`` queue. Each job crawls one site by name from the worker's own sites
file, in a fresh process (:func:`run_crawl_isolated`: a Twisted reactor starts once per process).
Running a job twice changes nothing a crawl would not: a second run of a site while one is running
is refused (and recorded), otherwise it is an incremental crawl.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
from dataclasses import dataclass

from lootwatch.crawlers.crawl_queue import crawl_queue
from lootwatch.crawlers.run import run_crawl_isolated
from lootwatch.crawlers.sites import load_sites
from redis import Redis

from lootwatch.core.errors import ConfigError, StateError
from lootwatch.core.queueing import QuickStopWorker
from lootwatch.core.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_CRAWL_TIMEOUT_S = 6 * 3600.0


class _CrawlWorker(QuickStopWorker):
    """The in-process worker (the job starts the crawl in a child of its own); a SIGTERM also stops
    the crawl in hand."""

    def request_stop(self, signum: int, frame: object) -> None:
        """A SIGTERM (docker stop, a supervisor) reaches only this process: pass it on to the crawl in
        hand, which stops as Scrapy stops on SIGTERM (requests in flight end, its run is recorded as
        failed, 'crawl ended: shutdown'), so the job ends soon and the site is free for the next run.
        A SIGINT from a terminal has reached the crawl already."""
        if signum == signal.SIGTERM:
            for child in multiprocessing.active_children():
                child.terminate()
        super().request_stop(signum, frame)


@dataclass(frozen=True)
class CrawlContext:
    settings: Settings
    database_url: str
    redis_url: str
    timeout_s: float = DEFAULT_CRAWL_TIMEOUT_S


_context: CrawlContext | None = None


def configure(context: CrawlContext) -> None:
    """What this process's crawl jobs run with (set by the crawl worker before it takes jobs)."""
    global _context
    _context = context


def current() -> CrawlContext:
    if _context is None:
        raise StateError("crawl jobs run in `lootwatch crawl-worker`, which configures them first")
    return _context


def crawl_site(site_name: str) -> dict:
    """Crawl one site of this worker's sites file; the run's counts (status 'skipped' and the reason
    when another run of the site was running). A failed crawl fails the job, with its note."""
    ctx = current()
    sites = load_sites(ctx.settings.sites_file)
    site = sites.get(site_name)
    if site is None:
        where = ctx.settings.sites_file or "the bundled sites file"
        raise ConfigError(f"site {site_name!r} is not in {where} on this crawl worker")
    stats = run_crawl_isolated(ctx.settings, ctx.database_url, ctx.redis_url, [site], timeout_s=ctx.timeout_s)[0]
    if stats.status == "skipped":
        log.warning("crawl of %s refused: %s", site_name, stats.note)
    elif stats.status == "failed":
        raise StateError(f"crawl of {site_name} failed: {stats.note}")
    return stats.to_dict()


def run_crawl_worker(context: CrawlContext, *, burst: bool = False, name: str | None = None) -> bool:
    """Take crawl jobs until stopped (``burst``: until the queue is empty). One crawl at a time per
    worker: the job runs in this process, which starts each crawl in a child of its own."""
    configure(context)
    queue = crawl_queue(Redis.from_url(context.redis_url))
    worker = _CrawlWorker([queue], connection=queue.connection, serializer=queue.serializer, name=name)
    return bool(worker.work(burst=burst, logging_level="INFO", with_scheduler=False))
