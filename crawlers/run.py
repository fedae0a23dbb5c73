"""Running crawls.

Scrapy runs on a Twisted reactor, and a reactor can be started only ONCE per process: call
:func:`run_crawl` once per process (the CLI is one process per call). Anything that crawls
repeatedly (the crawl worker, tests) uses :func:`run_crawl_isolated`, which runs it in a fresh
child process.
"""

from __future__ import annotations

import logging
import multiprocessing

# the download handler's module, with Scrapy's HTTP/TLS modules it imports, loaded at start-up: Scrapy
# loads it at the first request, inside the crawl, where its deprecated-class shims walk the reactor's
# deep stack reading source files (inspect.stack): 0.4 s or more of the crawl's first responses
import lootwatch.crawlers.browser  # noqa: F401, I001
from lootwatch.crawlers.heap import settle_heap
from lootwatch.crawlers.politeness import PACE_URL_SETTING
from lootwatch.crawlers.settings import crawler_settings, process_settings
from lootwatch.crawlers.sites import SiteConfig
from lootwatch.crawlers.spiders.listing import ListingSpider
from lootwatch.crawlers.store import CrawlStats, CrawlStore, open_store
from scrapy.crawler import Crawler, CrawlerProcess

from lootwatch.core.db import Database
from lootwatch.core.errors import StateError
from lootwatch.core.settings import Settings

log = logging.getLogger(__name__)


def make_store(settings: Settings, database_url: str, redis_url: str) -> CrawlStore:
    return open_store(settings, database_url, redis_url)


def record_refusal(database_url: str, source_id: int, why: str) -> None:
    """A run that was not started, kept with its reason (never counts as the site's last run)."""
    Database(database_url).execute(
        "INSERT INTO crawl_runs (source_id, status, finished_at, note) VALUES (%s, 'refused', now(), %s)",
        (source_id, why),
    )


def run_crawl(settings: Settings, database_url: str, redis_url: str, sites: list[SiteConfig]) -> list[CrawlStats]:
    """Crawl ``sites`` in one CrawlerProcess (blocks until all are done). Once per process."""
    store = make_store(settings, database_url, redis_url)
    process = CrawlerProcess(process_settings())
    # Scrapy opens the root logger to every level when it does not install its own handler, and sets
    # its own "scrapy" logger to DEBUG (so its records pass whatever the root's level): keep the CLI's
    # handler at INFO (LogStats progress lines), not one DEBUG line per request
    logging.root.setLevel(logging.INFO)
    logging.getLogger("scrapy").setLevel(logging.INFO)
    for noisy in (
        "scrapy.middleware",
        "scrapy.crawler",
        "scrapy.addons",
        "scrapy.utils.log",
        "scrapy.extensions.telnet",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)  # start-up dumps of settings and components
    results: list[CrawlStats] = []
    runs: list[tuple[int, CrawlStats, Crawler]] = []
    for site in sites:
        stats = CrawlStats(site.name)
        results.append(stats)
        source_id = store.source_id(site.name, site.base_url)
        try:
            run_id = store.start_run(source_id, site.name)
        except StateError as exc:
            stats.status, stats.note = "skipped", str(exc)
            record_refusal(database_url, source_id, stats.note)
            continue
        scrapy_settings = crawler_settings(settings.crawl, site)
        scrapy_settings.set(PACE_URL_SETTING, redis_url)  # per-domain politeness shared with other processes
        # the first crawler installs the (asyncio) reactor; the others find it installed
        crawler = Crawler(ListingSpider, scrapy_settings, init_reactor=not runs)
        process.crawl(
            crawler,
            site=site,
            stats=stats,
            known_hashes=store.known_hashes(source_id),
            known_pages=store.known_pages(source_id),
            max_photo_bytes=settings.max_photo_bytes,
            source_id=source_id,
            store=store,
            store_args=(settings, database_url, redis_url),  # the pipeline's writer process opens its own
        )
        runs.append((run_id, stats, crawler))
    try:
        if runs:
            settle_heap()  # start-up's objects (Scrapy, Twisted, lxml, settings) frozen; fewer collections
            process.start()
    finally:
        for run_id, stats, crawler in runs:
            reason = crawler.stats.get_value("finish_reason") if crawler.stats else None
            stats.elapsed_s = float((crawler.stats.get_value("elapsed_time_seconds") if crawler.stats else 0) or 0)
            failed = reason not in ("finished", "closespider_pagecount", "closespider_itemcount")
            if failed and not stats.note:
                stats.note = f"crawl ended: {reason or 'did not start'}"
            store.finish_run(run_id, stats, failed=failed)
    return results


def _child(settings: Settings, database_url: str, redis_url: str, sites: list[SiteConfig], conn: object) -> None:
    try:
        conn.send(("ok", run_crawl(settings, database_url, redis_url, sites)))  # type: ignore[attr-defined]
    except BaseException as exc:  # report, then let the child die
        conn.send(("error", f"{type(exc).__name__}: {exc}"))  # type: ignore[attr-defined]
        raise


def run_crawl_isolated(
    settings: Settings,
    database_url: str,
    redis_url: str,
    sites: list[SiteConfig],
    timeout_s: float | None = None,
) -> list[CrawlStats]:
    """:func:`run_crawl` in a fresh (spawned) process, so it may be called any number of times."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(settings, database_url, redis_url, sites, child), daemon=False)
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout_s):
            raise TimeoutError(f"crawl of {', '.join(s.name for s in sites)} took longer than {timeout_s}s")
        status, value = parent.recv()
    except EOFError as exc:
        raise RuntimeError("crawl process died without a result") from exc
    finally:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.terminate()
    if status != "ok":
        raise RuntimeError(f"crawl failed: {value}")
    return value
