"""The listing spider: search pages -> item pages -> photos, for one site entry."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from lootwatch.crawlers.extract import extract_page
from lootwatch.crawlers.extract.result import BLOCKED, ITEM, NEEDS_JS, NOT_FOUND, SEARCH, PageResult, SearchResult
from lootwatch.crawlers.items import ListingItem, PhotoItem, SeenItem
from lootwatch.crawlers.sites import SiteConfig
from lootwatch.crawlers.store import CrawlStats, KnownPage, content_hash
from scrapy import Request, Spider
from scrapy.http import Response
from twisted.python.failure import Failure

log = logging.getLogger(__name__)
MAX_CHALLENGE_RETRIES = 2


class ListingSpider(Spider):
    name = "listing"

    def __init__(
        self,
        site: SiteConfig,
        stats: CrawlStats,
        known_hashes: dict[str, str] | None = None,
        max_photo_bytes: int = 20_000_000,
        known_pages: dict[str, KnownPage] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=f"listing-{site.name}", **kwargs)
        self.site, self.crawl_stats = site, stats
        self.known_hashes = known_hashes or {}
        self.known_pages = known_pages or {}
        self.skipped: set[str] = set()
        self.max_photo_bytes = max_photo_bytes
        self.search_pages = 0
        # the store pipeline's submit, set once it is open: items go straight to its writer, not
        # through Scrapy's item path (None: they are yielded to Scrapy)
        self.store_sink: Callable[[Any], object] | None = None

    async def start(self) -> AsyncIterator[Any]:
        for url in self.site.start_urls:
            yield self._page_request(url, js=self.site.needs_js)

    def _page_request(self, url: str, *, js: bool, **meta: Any) -> Request:
        meta = {"lw_kind": "page", **meta}
        if js:
            from scrapy_playwright.page import PageMethod

            # the page is closed by scrapy-playwright once the response is built
            meta.update(playwright=True, playwright_page_methods=[PageMethod("wait_for_load_state", "networkidle")])
        return Request(
            url,
            callback=self.parse,
            errback=self.page_failed,
            meta=meta,
            dont_filter=bool(meta.get("lw_retry")),
        )

    def _emit(self, item: Any) -> Iterator[Any]:
        """Hand ``item`` to the store (at once, so a listing is always sent before its photos are requested)."""
        if self.store_sink is None:
            yield item
        else:
            self.store_sink(item)

    # --- pages ----------------------------------------------------------------------------
    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        self.crawl_stats.pages += 1
        text = response.text if hasattr(response, "text") else response.body.decode("utf-8", "replace")
        page = extract_page(text, response.url, adapter=self.site.adapter, selectors=self.site.selectors)
        if page.page_type == BLOCKED:
            yield from self._blocked(response, page)
        elif page.page_type == NEEDS_JS and not response.meta.get("playwright"):
            log.info("%s needs JavaScript; fetching it again in Chromium", response.url)
            yield self._page_request(response.url, js=True, lw_retry=True)
        elif page.page_type == SEARCH:
            yield from self._search(response, page)
        elif page.page_type == ITEM:
            yield from self._item(response, page)
        elif page.page_type == NOT_FOUND:
            log.info("not found: %s (%s)", response.url, page.reason)
        else:
            log.info("nothing to read on %s (%s)", response.url, page.page_type)

    def _blocked(self, response: Response, page: PageResult) -> Iterator[Any]:
        self.crawl_stats.blocked += 1
        tries = response.meta.get("lw_challenge", 0)
        log.warning("blocked by a bot challenge on %s: %s", response.url, page.reason)
        mw = self._delay_mw()
        if tries < MAX_CHALLENGE_RETRIES and mw is not None:
            retry = mw.back_off(response.request, None, "bot challenge")  # type: ignore[arg-type]
            if retry is not None:
                retry.meta["lw_challenge"] = tries + 1
                yield retry
                return
        self.crawl_stats.note = f"blocked: {page.reason}"

    def _delay_mw(self) -> Any:
        from lootwatch.crawlers.middlewares import PoliteDelayMiddleware

        for mw in self.crawler.engine.downloader.middleware.middlewares:  # type: ignore[union-attr]
            if isinstance(mw, PoliteDelayMiddleware):
                return mw
        return None

    def _search(self, response: Response, page: PageResult) -> Iterator[Any]:
        self.search_pages += 1
        js = bool(response.meta.get("playwright")) and self.site.needs_js
        seen = []
        for result in page.results:
            known = self.known_pages.get(result.url)
            if known is not None and self._unchanged(known, result):
                if known.item_id not in self.skipped:
                    self.skipped.add(known.item_id)
                    seen.append(known.item_id)
                continue
            yield self._page_request(result.url, js=js)
        if seen:
            self.crawl_stats.listings += len(seen)
            self.crawl_stats.listings_skipped += len(seen)
            yield from self._emit(SeenItem(seen))
        if page.next_page and self.search_pages < self.site.max_pages:
            yield self._page_request(page.next_page, js=js)

    def _unchanged(self, known: KnownPage, card: SearchResult) -> bool:
        """The card shows the price stored and the page was fetched recently: no need to fetch it again.

        A card without a price tells nothing, and every listing is re-read once ``refetch_after``
        has passed, so a change a card does not show (status, description) is still caught.
        """
        age = (datetime.now(UTC) - known.fetched_at).total_seconds()
        shown = " ".join(card.price_text.split())
        return bool(shown) and shown == " ".join(known.price_text.split()) and age < self.site.refetch_after_s

    def _item(self, response: Response, page: PageResult) -> Iterator[Any]:
        if not page.item_id:
            self.crawl_stats.errors += 1
            log.warning("item page without an item id: %s", response.url)
            return
        self.crawl_stats.listings += 1
        changed = self.known_hashes.get(page.item_id) != content_hash(page)
        # the listing is sent to the store's one writer before its photos are requested: its row is
        # written before any of theirs
        yield from self._emit(ListingItem(page=page, body=response.body, http_status=response.status, changed=changed))
        if not changed:
            return
        self.crawl_stats.listings_changed += 1
        for position, url in enumerate(page.photos):
            yield Request(
                url,
                callback=self.photo,
                errback=self.photo_failed,
                dont_filter=True,
                meta={
                    "lw_kind": "photo",
                    "item_id": page.item_id,
                    "position": position,
                    "download_maxsize": self.max_photo_bytes,
                    "handle_httpstatus_all": True,
                },
            )

    def page_failed(self, failure: Failure) -> None:
        from scrapy.exceptions import IgnoreRequest

        if failure.check(IgnoreRequest):  # robots.txt or the SSRF guard said no: by design, not an error
            log.info("skipped %s: %s", getattr(failure.request, "url", "?"), failure.getErrorMessage())  # type: ignore[attr-defined]
            return
        self.crawl_stats.errors += 1
        log.warning("page failed: %s: %s", getattr(failure.request, "url", "?"), failure.getErrorMessage())  # type: ignore[attr-defined]

    # --- photos ---------------------------------------------------------------------------
    def photo(self, response: Response) -> Iterator[PhotoItem]:
        meta = response.meta
        error = f"HTTP {response.status} fetching photo" if response.status != 200 else ""
        yield from self._emit(
            PhotoItem(meta["item_id"], response.url, meta["position"], None if error else response.body, error)
        )

    def photo_failed(self, failure: Failure) -> Iterator[PhotoItem]:
        request = failure.request  # type: ignore[attr-defined]
        yield from self._emit(
            PhotoItem(
                request.meta["item_id"],
                request.url,
                request.meta["position"],
                None,
                f"download failed: {failure.getErrorMessage() or repr(failure.value)}",
            )
        )
