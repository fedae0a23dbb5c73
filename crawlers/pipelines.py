"""The store pipeline: listings and photos into Postgres, the blob store and the photo queue."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from scrapy.crawler import Crawler

from crawlers.items import ListingItem, PhotoItem, SeenItem
from crawlers.store import CrawlStats, CrawlStore

log = logging.getLogger(__name__)


class StorePipeline:
    """Writes from ONE worker thread, off the reactor: pages are parsed while the database works.

    One thread keeps the writes in the order items arrive, so a listing row is always written
    before the photos that a later response brings for it. The crawl's store and source id are
    spider attributes (settings are deep-copied; a store is not).
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lootwatch-store")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    async def process_item(self, item: Any) -> Any:
        spider: Any = self.crawler.spider
        job = self.executor.submit(_store, spider.store, spider.source_id, spider.crawl_stats, item)
        await asyncio.wrap_future(job)
        return item

    def close_spider(self) -> None:
        self.executor.shutdown(wait=True)
        store: CrawlStore | None = getattr(self.crawler.spider, "store", None)
        if store is not None:
            store.close()


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
            outcome = store.save_photo(listing_id, item.url, item.data, item.position, item.error)
            # counters are bumped from this one thread only
            setattr(stats, f"photos_{outcome}", getattr(stats, f"photos_{outcome}") + 1)
    except Exception:  # one bad record never stops the crawl; it is counted and logged
        stats.errors += 1
        log.exception("storing %s failed", type(item).__name__)
