"""The generic adapter: site selectors, then JSON-LD, microdata, OpenGraph, then markup heuristics."""

from __future__ import annotations

import re
from collections.abc import Mapping

from lootwatch.crawlers.extract import cards, gallery, heuristics, photos, structured, xpath
from lootwatch.crawlers.extract.identity import item_id_from_url, own_item_id
from lootwatch.crawlers.extract.result import ITEM, SEARCH, PageResult
from lootwatch.crawlers.extract.selectors import select_text, select_urls
from lootwatch.crawlers.extract.text import absolute, clean, format_price, parse_price, unique
from parsel import Selector

_STATUS_TEXT = [
    (re.compile(r"\bsold\b|落札済|売り切れ|sold out|verkauft|vendu|zugeschlagen", re.I), "sold"),
    (re.compile(r"\bended\b|\bclosed\b|bidding has ended|auction (is )?over|終了", re.I), "ended"),
]


def extract_generic(sel: Selector, html: str, url: str, selectors: Mapping[str, str] | None = None) -> PageResult:
    selectors = selectors or {}
    canonical = absolute(url, xpath.first(sel.root, "//link[@rel='canonical']/@href")) or url
    out = PageResult(url=url, canonical_url=canonical)
    ld = structured.from_jsonld(sel, url)  # parsed once: both parts read it
    _search_part(sel, html, url, selectors, ld, out)
    if out.results:
        out.page_type = SEARCH
        return out
    if _item_part(sel, html, url, selectors, ld, out):
        return out
    grid = cards.find_cards(sel.root, url)
    if grid is not None:
        _card_results(sel, url, selectors, grid, out)
        return out
    if _state_item(sel, html, url, out):
        return out
    # no markup names a listing and no result grid: a heading beside a photo gallery still is one
    heading = gallery.title_text(sel.root)
    if heading:
        seen = gallery.listing_photos(sel.root, html, url, title=heading, structured=[], og_images=[])
        if seen.photos:
            _item_part(sel, html, url, selectors, ld, out, force=True)
            out.review("read as a listing from its heading and photo gallery alone (no structured data names it)")
    return out


def _state_item(sel: Selector, html: str, url: str, out: PageResult) -> bool:
    """A page whose markup names nothing but whose JSON state holds the listing of the URL's id."""
    title, found = gallery.state_listing(sel.root, html, url, item_id_from_url(url))
    if not title:
        return False
    out.page_type = ITEM
    out.title = title
    out.item_id = item_id_from_url(url)
    out.photos = photos.dedupe(found)
    out.sources.update({"title": "page state JSON (object with the URL's id)", "photos": "page state JSON"})
    out.confidence = 0.7
    out.review("read from the page's JSON state alone (object with the URL's id); price and status not read")
    return True


def _card_results(sel: Selector, url: str, selectors: Mapping[str, str], grid: cards.CardGrid, out: PageResult) -> None:
    out.page_type = SEARCH
    for r in grid.results:
        r.item_id = item_id_from_url(r.url)
    out.results = grid.results
    out.sources["results"] = f"repeated listing cards ({grid.signature}, {len(grid.results)} cards)"
    _next_page(sel, url, selectors, out)


def _next_page(sel: Selector, url: str, selectors: Mapping[str, str], out: PageResult) -> None:
    chosen = (select_urls(sel, selectors.get("next_page"), url) or [""])[0]
    if chosen:
        out.next_page = chosen
        out.sources["next_page"] = "site selector next_page"
        return
    nxt, rule = heuristics.next_page_info(sel.root, url)
    out.next_page = nxt
    if rule == "javascript":
        out.extra["paging"] = "javascript"
        out.review("the next-page control has no address: paging needs JavaScript (set needs_js for this site)")
        out.sources["next_page"] = "next-page control without an address (JavaScript)"
    elif rule:
        out.sources["next_page"] = rule


def _search_part(
    sel: Selector, html: str, url: str, selectors: Mapping[str, str], ld: structured.Structured, out: PageResult
) -> None:
    urls = select_urls(sel, selectors.get("result_links"), url)
    rule = "site selector result_links"
    pattern = selectors.get("item_url_pattern")
    if not urls and pattern:
        rx = re.compile(pattern)
        urls = unique(u for u in (absolute(url, h) for h in sel.xpath("//a/@href").getall()) if rx.search(u))
        rule = "site item_url_pattern"
    if not urls and ld.item_list and not ld.found:
        urls = unique(e["url"] for e in ld.item_list)
        rule = "JSON-LD ItemList"
    if not urls:
        return
    out.sources["results"] = rule
    by_url = {e["url"]: e for e in ld.item_list}
    results = heuristics.enrich_results(html, url, urls)
    for r in results:
        e = by_url.get(r.url, {})
        r.title = r.title or e.get("name", "")
        r.price_text = r.price_text or e.get("price", "")
        r.thumb = r.thumb or e.get("image", "")
        r.image = photos.upgrade(r.thumb) if r.thumb else ""
        r.item_id = item_id_from_url(r.url)
    out.results = results
    _next_page(sel, url, selectors, out)


def _item_part(
    sel: Selector,
    html: str,
    url: str,
    selectors: Mapping[str, str],
    ld: structured.Structured,
    out: PageResult,
    force: bool = False,
) -> bool:
    """Fill ``out`` as an item page where the page names a listing (``force``: read it as one anyway)."""
    md = structured.from_microdata(sel, url) if not ld.found else structured.Structured()
    og = structured.from_opengraph(sel, url)
    data = ld if ld.found else md
    data_name = "JSON-LD" if ld.found else "microdata"
    sel_title = select_text(sel, selectors.get("title"))
    out.title = sel_title or data.title or (og.title if og.found else "")
    out.sources["title"] = (
        "site selector title" if sel_title else f"{data_name} name" if data.title else "og:title" if out.title else ""
    )
    if not (out.title or data.found or og.found or force):
        return False
    if not out.title:
        out.title = clean(" ".join(sel.css("h1 ::text").getall())) or og.title
        out.sources["title"] = "<h1>" if out.title else ""
    out.page_type = ITEM
    out.description = select_text(sel, selectors.get("description")) or data.description or og.description
    out.seller = select_text(sel, selectors.get("seller")) or data.seller
    out.sale_date = select_text(sel, selectors.get("date")) or data.date
    # the id is the fetched URL's: a claimed canonical or a stated sku names whichever listing the page wants
    sel_id = select_text(sel, selectors.get("item_id"))
    claimed_by = "site selector item_id" if sel_id else f"{data_name} sku/productID"
    out.item_id = own_item_id(url, sel_id or data.item_id, out=out, claimed_by=claimed_by)
    amount = data.amount if data.amount is not None else og.amount
    currency = data.currency or og.currency
    price_text = select_text(sel, selectors.get("price")) or heuristics.shown_price(sel, amount)
    if price_text:
        parsed_amount, parsed_currency = parse_price(price_text)
        amount = amount if amount is not None else parsed_amount
        currency = currency or parsed_currency
    elif amount is not None:
        price_text = format_price(amount, currency)
    out.price_text, out.amount, out.currency = price_text, amount, currency
    _photos(sel, html, url, selectors, data, og, out)
    out.status = _status(sel, selectors, data.availability, out)
    return True


def _photos(
    sel: Selector,
    html: str,
    url: str,
    selectors: Mapping[str, str],
    data: structured.Structured,
    og: structured.Structured,
    out: PageResult,
) -> None:
    if selectors.get("photos"):
        found, refused = photos.split_fetchable(select_urls(sel, selectors["photos"], url, photos=True))
        if found or refused:
            out.photos = photos.dedupe(found)
            out.refuse_photos(refused)
            out.sources["photos"] = "site selector photos"
            return
    picked = gallery.listing_photos(sel.root, html, url, title=out.title, structured=data.images, og_images=og.images)
    out.photos = photos.dedupe(picked.photos)
    out.refuse_photos(picked.refused)
    out.sources["photos"] = picked.source
    out.confidence = picked.confidence
    if picked.left_out:
        out.extra["other_listing_photos_left_out"] = picked.left_out
    for reason in picked.reasons:
        out.review(reason)


def _status(sel: Selector, selectors: Mapping[str, str], availability: str, out: PageResult) -> str:
    text = select_text(sel, selectors.get("status"))
    for rx, status in _STATUS_TEXT:
        if text and rx.search(text):
            return status
    status = structured.status_of(availability)
    if status != "unknown":
        return status
    return "open" if out.price_text else "unknown"
