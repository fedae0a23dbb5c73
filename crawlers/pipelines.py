"""The store pipeline: listings and photos into Postgres, the blob store and the photo queue."""

from __future__ import annotations

import logging
from typing import Any

from scrapy.crawler import Crawler

from crawlers.items import ListingItem, PhotoItem
from crawlers.store import CrawlStore

log = logging.getLogger(__name__)


class StorePipeline:
    """Writes synchronously (psycopg) from the reactor thread: simple, and the DB is local and fast.

    The crawl's store and source id are spider attributes (settings are deep-copied; a store is not).
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        spider: Any = self.crawler.spider
        stats = spider.crawl_stats
        store: CrawlStore = spider.store
        try:
            if isinstance(item, ListingItem):
                store.save_listing(spider.source_id, item.page, item.body, item.http_status)
            elif isinstance(item, PhotoItem):
                listing_id = store.listing_id(spider.source_id, item.item_id)
                if listing_id is None:
                    raise RuntimeError(f"photo {item.url} arrived before its listing {item.item_id}")
                outcome = store.save_photo(listing_id, item.url, item.data, item.position, item.error)
                setattr(stats, f"photos_{outcome}", getattr(stats, f"photos_{outcome}") + 1)
        except Exception:  # one bad record never stops the crawl; it is counted and logged
            stats.errors += 1
            log.exception("storing %s failed", type(item).__name__)
        return item
