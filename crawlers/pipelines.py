"""The store pipeline: listings and photos into Postgres, the blob store and the photo queue."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from typing import Any

from scrapy.crawler import Crawler

from crawlers.items import ListingItem, PhotoItem, SeenItem
from crawlers.store import CrawlStats, CrawlStore, FetchedPage, FetchedPhoto

log = logging.getLogger(__name__)
MAX_BATCH = 200  # items written in one transaction at most
LINGER_S = 0.05  # how long a batch waits for more items: fewer commits, each item 50 ms later at most


class StorePipeline:
    """Writes from ONE writer thread, off the reactor, in batches: pages are parsed while the
    database works, and the items waiting when the writer is free share one transaction (a
    commit per page, with its WAL flush, cost more than the page itself).

    One thread keeps the writes in the order items arrive, so a listing row is always written
    before the photos that a later response brings for it. An item's ``process_item`` returns
    once its batch is committed: the writer wakes the reactor once per batch, not once per item.
    The crawl's store and source id are spider attributes (settings are deep-copied; a store is not).
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.pending: queue.SimpleQueue[tuple[Any, asyncio.Future[None]] | None] = queue.SimpleQueue()
        self.writer: threading.Thread | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        spider: Any = self.crawler.spider
        self.writer = threading.Thread(
            target=_write_loop,
            args=(self.pending, spider.store, spider.source_id, spider.crawl_stats),
            name=f"lootwatch-store-{spider.site.name}",
            daemon=True,
        )
        self.writer.start()

    async def process_item(self, item: Any) -> Any:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.put((item, done))
        await done
        return item

    def close_spider(self) -> None:
        self.pending.put(None)
        if self.writer is not None:
            self.writer.join()
        store: CrawlStore | None = getattr(self.crawler.spider, "store", None)
        if store is not None:
            store.close()


def _write_loop(
    pending: queue.SimpleQueue[tuple[Any, asyncio.Future[None]] | None],
    store: CrawlStore,
    source_id: int,
    stats: CrawlStats,
) -> None:
    stop = False
    while not stop:
        first = pending.get()
        if first is None:
            return
        batch = [first]
        deadline = time.monotonic() + LINGER_S
        while len(batch) < MAX_BATCH:  # what arrives meanwhile joins this transaction
            try:
                nxt = pending.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                break
            if nxt is None:
                stop = True
                break
            batch.append(nxt)
        try:
            with store.batch():
                _store_batch(store, source_id, stats, [item for item, _ in batch])
        except Exception:  # the commit itself failed: every record of the batch is lost
            stats.errors += len(batch)
            log.exception("storing a batch of %d records failed", len(batch))
        futures = [done for _, done in batch]
        loop = futures[0].get_loop()
        if not loop.is_closed():
            loop.call_soon_threadsafe(_resolve, futures)


def _resolve(futures: list[asyncio.Future[None]]) -> None:
    """On the reactor's loop: the batch is committed (or counted as failed); its items go on."""
    for done in futures:
        if not done.done():  # cancelled when the crawl was stopped meanwhile
            done.set_result(None)


def _store_batch(store: CrawlStore, source_id: int, stats: CrawlStats, items: list[Any]) -> None:
    """Listings first (a photo's listing may be in this batch), then the rest, then photos: each kind in a
    few statements. A listing's writes keep their arrival order, and its photos always come after it."""
    listings = [i for i in items if isinstance(i, ListingItem)]
    photos = [i for i in items if isinstance(i, PhotoItem)]
    if listings:
        _store_listings(store, source_id, stats, listings)
    for item in items:
        if not isinstance(item, ListingItem | PhotoItem):
            _store(store, source_id, stats, item)
    if photos:
        _store_photos(store, source_id, stats, photos)


def _store_listings(store: CrawlStore, source_id: int, stats: CrawlStats, items: list[ListingItem]) -> None:
    pages = [FetchedPage(i.page, i.body, i.http_status, i.fetched_at) for i in items]
    try:
        with store.savepoint():
            store.save_listings(source_id, pages)
    except Exception:  # find the bad record: one at a time, each in its own savepoint
        log.warning("writing %d listings together failed; writing them one by one", len(items), exc_info=True)
        for item in items:
            _store(store, source_id, stats, item)


def _store_photos(store: CrawlStore, source_id: int, stats: CrawlStats, items: list[PhotoItem]) -> None:
    photos = [FetchedPhoto(i.item_id, i.url, i.data, i.position, i.error) for i in items]
    try:
        with store.savepoint():
            outcomes = store.save_photos(source_id, photos)
    except Exception:  # find the bad record: one at a time, each in its own savepoint
        log.warning("writing %d photos together failed; writing them one by one", len(items), exc_info=True)
        for item in items:
            _store(store, source_id, stats, item)
        return
    for outcome in outcomes:
        _count_photo(stats, outcome)


def _count_photo(stats: CrawlStats, outcome: str) -> None:
    # counters are bumped from the writer thread only
    setattr(stats, f"photos_{outcome}", getattr(stats, f"photos_{outcome}") + 1)


def _store(store: CrawlStore, source_id: int, stats: CrawlStats, item: Any) -> None:
    try:
        if isinstance(item, ListingItem):
            store.save_listing(source_id, item.page, item.body, item.http_status, item.fetched_at)
        elif isinstance(item, SeenItem):
            store.mark_seen(source_id, item.item_ids)
        elif isinstance(item, PhotoItem):
            listing_id = store.listing_id(source_id, item.item_id)
            if listing_id is None:
                raise RuntimeError(f"photo {item.url} arrived before its listing {item.item_id}")
            _count_photo(stats, store.save_photo(listing_id, item.url, item.data, item.position, item.error))
    except Exception:  # one bad record never stops the crawl; it is counted and logged
        stats.errors += 1
        log.exception("storing %s failed", type(item).__name__)
