"""Page extraction: pure functions from (HTML, URL) to a :class:`PageResult`; no network, no Scrapy."""

from __future__ import annotations

from collections.abc import Mapping

from lootwatch.crawlers.extract.catawiki import extract_catawiki
from lootwatch.crawlers.extract.detect import challenge_reason, js_shell_reason, not_found_reason
from lootwatch.crawlers.extract.ebay import extract_ebay, is_ebay
from lootwatch.crawlers.extract.generic import extract_generic
from lootwatch.crawlers.extract.liveauctioneers import extract_liveauctioneers
from lootwatch.crawlers.extract.photos import split_fetchable
from lootwatch.crawlers.extract.result import BLOCKED, NEEDS_JS, NOT_FOUND, UNKNOWN, PageResult, SearchResult
from lootwatch.crawlers.extract.text import clean, strip_http_headers
from lootwatch.crawlers.extract.titles import clean_title, site_names
from parsel import Selector

__all__ = ["ADAPTERS", "PageResult", "SearchResult", "extract_page", "guess_adapter"]

ADAPTERS = {
    "generic": lambda sel, html, url, selectors: extract_generic(sel, html, url, selectors),
    "ebay": lambda sel, html, url, selectors: extract_ebay(sel, html, url),
    "liveauctioneers": lambda sel, html, url, selectors: extract_liveauctioneers(sel, html, url),
    "catawiki": lambda sel, html, url, selectors: extract_catawiki(sel, html, url),
}


def guess_adapter(url: str) -> str:
    if is_ebay(url):
        return "ebay"
    if "liveauctioneers.com" in url:
        return "liveauctioneers"
    if "catawiki." in url:
        return "catawiki"
    return "generic"


def extract_page(
    html: str, url: str, *, adapter: str | None = None, selectors: Mapping[str, str] | None = None
) -> PageResult:
    """Classify and read one page. ``adapter`` None: chosen from the URL's host."""
    name = adapter or guess_adapter(url)
    if name not in ADAPTERS:
        raise ValueError(f"unknown adapter {name!r} (known: {', '.join(sorted(ADAPTERS))})")
    html, status_line = strip_http_headers(html or "")
    sel = Selector(text=html or "<html></html>")
    reason = challenge_reason(sel, html)
    if reason:
        return PageResult(
            url=url, page_type=BLOCKED, adapter=name, reason=reason, title=clean(sel.css("title::text").get())
        )
    result = ADAPTERS[name](sel, html, url, selectors)
    # whatever an adapter read, a photo URL that is never fetched leaves with its reason, not unseen
    result.photos, unfetchable = split_fetchable(result.photos)
    result.refuse_photos(unfetchable)
    if status_line:
        result.extra["http_status_line"] = status_line
    if result.title and result.page_type != UNKNOWN:
        cleaned = clean_title(result.title, site_names(sel.root, url))
        if cleaned != result.title:
            result.sources["title"] = (result.sources.get("title", "") + ", site name cut").lstrip(", ")
            result.title = cleaned
    if result.page_type != UNKNOWN:
        return result
    for page_type, why in ((NOT_FOUND, not_found_reason(sel)), (NEEDS_JS, js_shell_reason(sel))):
        if why:
            return PageResult(
                url=url, page_type=page_type, adapter=name, reason=why, canonical_url=result.canonical_url
            )
    result.review(
        "no listing data and no repeated result cards (each with a link, a title and an image) found: "
        "give this site selectors (result_links, title, price, photos)"
    )
    return result
