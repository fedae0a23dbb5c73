"""The listing spider: search pages -> item pages -> photos, for one site entry."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from lootwatch.crawlers.extract import extract_page
from lootwatch.crawlers.extract.result import BLOCKED, ITEM, NEEDS_JS, NOT_FOUND, SEARCH, PageResult, SearchResult
from lootwatch.crawlers.items import ListingItem, PhotoItem, RefusedPage, SeenItem
from lootwatch.crawlers.middlewares import PoliteDelayMiddleware
from lootwatch.crawlers.safety_text import clean_record, clean_text
from lootwatch.crawlers.sites import SiteConfig
from lootwatch.crawlers.store import CrawlStats, KnownPage, content_hash
from scrapy import Request, Spider
from scrapy.http import Response
from twisted.python.failure import Failure

log = logging.getLogger(__name__)
MAX_CHALLENGE_RETRIES = 2
MAX_REASON_CHARS = 500


def page_refusal(failure: Failure) -> tuple[str, bool]:
    """(reason, refused by design) of a page request's failure: robots.txt, the SSRF guard, the size
    limits (download and decompression) and the redirect limit refuse; anything else failed."""
    from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
    from scrapy.spidermiddlewares.httperror import HttpError

    message = failure.getErrorMessage() or repr(failure.value)
    if isinstance(failure.value, HttpError):
        return f"HTTP {failure.value.response.status}", False
    if failure.check(DownloadCancelledError) and "max size" in message:
        return f"too large: {message}"[:MAX_REASON_CHARS], True
    if failure.check(IgnoreRequest):
        if "robots.txt" in message:
            return "robots.txt disallows it", True
        if "max redirections" in message:
            return "redirect loop: too many redirects", True
        if "DOWNLOAD_MAXSIZE" in message:
            return f"too large when decompressed (compression bomb): {message}"[:MAX_REASON_CHARS], True
        return message[:MAX_REASON_CHARS], True
    return f"download failed: {message}"[:MAX_REASON_CHARS], False


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
        # every field is the seller's text: what PostgreSQL refuses would lose the whole listing
        page, notes = clean_record(page)
        if page.page_type == BLOCKED:
            yield from self._blocked(response, page)
        elif page.page_type == NEEDS_JS and not response.meta.get("playwright"):
            log.info("%s needs JavaScript; fetching it again in Chromium", response.url)
            yield self._page_request(response.url, js=True, lw_retry=True)
        elif page.page_type == SEARCH:
            yield from self._search(response, page)
        elif page.page_type == ITEM:
            yield from self._item(response, page, notes)
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
        why = page.reason if page.reason.startswith("bot challenge") else f"bot challenge: {page.reason or 'blocked'}"
        yield from self._refused(response.url, f"{why} (gave up after {tries} retries)")

    def _refused(self, url: str, reason: str, *, error: bool = False) -> Iterator[Any]:
        """A page the crawl will not read (``error``: could not): counted, and recorded with its reason."""
        if error:
            self.crawl_stats.errors += 1
        else:
            self.crawl_stats.refused += 1
        if not self.crawl_stats.first_refusal:
            self.crawl_stats.first_refusal = reason
        yield from self._emit(RefusedPage(clean_text(url), clean_text(reason)))

    def _delay_mw(self) -> Any:
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

    def _item(self, response: Response, page: PageResult, notes: list[str]) -> Iterator[Any]:
        if not page.item_id:
            log.warning("item page without an item id: %s", response.url)
            yield from self._refused(response.url, "item page without an item id", error=True)
            return
        self.crawl_stats.listings += 1
        changed = self.known_hashes.get(page.item_id) != content_hash(page)
        # the listing is sent to the store's one writer before its photos are requested: its row is
        # written before any of theirs
        yield from self._emit(
            ListingItem(page=page, body=response.body, http_status=response.status, changed=changed, notes=notes)
        )
        if not changed:
            return
        self.crawl_stats.listings_changed += 1
        for position, refused in enumerate(page.refused_photos, start=len(page.photos)):
            # photo URLs the extractor found for this listing but that are never fetched (javascript:, data:)
            yield from self._photo_refused(page.item_id, refused["url"], position, refused["reason"])
        for position, url in enumerate(page.photos):
            # one bad URL is refused alone (recorded as a rejected photo): the listing's other photos are fetched
            scheme = urlsplit(url).scheme.lower()
            if scheme not in ("http", "https"):
                yield from self._photo_refused(
                    page.item_id, url, position, f"refused: {scheme or 'no'} scheme, only http(s) photos are fetched"
                )
                continue
            try:
                request = Request(
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
            except ValueError as exc:  # Scrapy's own URL checks
                yield from self._photo_refused(page.item_id, url, position, f"refused: {exc}")
                continue
            yield request

    def _photo_refused(self, item_id: str, url: str, position: int, reason: str) -> Iterator[Any]:
        log.warning("photo %r of %s %s", url[:200], item_id, reason)
        yield from self._emit(PhotoItem(item_id, clean_text(url), position, None, reason))

    def page_failed(self, failure: Failure) -> Iterator[Any]:
        """A page not fetched: refused by design (robots.txt, the SSRF guard, a size limit, a redirect
        loop) or failed (network, HTTP error); either way recorded with its reason."""
        url = getattr(failure.request, "url", "?")  # type: ignore[attr-defined]
        reason, refused = page_refusal(failure)
        log.log(
            logging.INFO if refused else logging.WARNING,
            "page %s: %s: %s",
            "refused" if refused else "failed",
            url,
            reason,
        )
        yield from self._refused(url, reason, error=not refused)

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
