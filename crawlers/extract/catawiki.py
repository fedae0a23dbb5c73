"""Catawiki: the Next.js page data (``__NEXT_DATA__`` pageProps: ``lotDetailsData`` and
``biddingBlockResponse`` on a lot page, ``searchLots`` on a search page), or on older pages the lot JSON
in React ``data-props`` attributes; JSON-LD, where present, fills the rest."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from lootwatch.crawlers.extract import photos, xpath
from lootwatch.crawlers.extract.generic import extract_generic
from lootwatch.crawlers.extract.identity import own_item_id
from lootwatch.crawlers.extract.result import ITEM, SEARCH, PageResult, SearchResult
from lootwatch.crawlers.extract.text import clean, format_price, loads_lenient
from parsel import Selector

_LOT_ID = re.compile(r"/l/(\d+)")
_SIZE_KEYS = ("original", "xl", "extraLarge", "large", "url", "l", "medium", "m")


def _props(sel: Selector) -> Iterator[Any]:
    for raw in sel.xpath("//@data-props").getall():
        try:
            yield loads_lenient(raw)
        except (ValueError, RecursionError):
            continue


def _dicts(value: Any) -> Iterator[dict]:
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _dicts(v)
    elif isinstance(value, list):
        for v in value:
            yield from _dicts(v)


def _lot(sel: Selector, lot_id: str) -> dict | None:
    for props in _props(sel):
        for d in _dicts(props):
            if str(d.get("lotId") or d.get("id") or "") == lot_id and (d.get("title") or d.get("lotTitle")):
                return d
    return None


def _images(lot: dict) -> list[str]:
    out = []
    for key in ("images", "gallery", "photos", "imageUrls"):
        for img in lot.get(key) or []:
            if isinstance(img, str):
                out.append(img)
            elif isinstance(img, dict):
                size = next((img[k] for k in _SIZE_KEYS if isinstance(img.get(k), str)), None)
                if size is None:  # {"large": {"url": ...}}
                    size = next((img[k].get("url") for k in _SIZE_KEYS if isinstance(img.get(k), dict)), None)
                if size:
                    out.append(size)
    return out


def page_props(sel: Selector) -> dict[str, Any]:
    """The Next.js page data of a Catawiki page ({} where it has none)."""
    raw = xpath.first(sel.root, "//script[@id='__NEXT_DATA__']/text()")
    if not raw:
        return {}
    try:
        data = loads_lenient(raw)
    except (ValueError, RecursionError):
        return {}
    props = data.get("props", {}).get("pageProps", {}) if isinstance(data, dict) else {}
    return props if isinstance(props, dict) else {}


def _ms_iso(value: Any) -> str:
    if isinstance(value, int | float) and value > 0:
        return datetime.fromtimestamp(value / 1000, UTC).isoformat()
    return str(value or "")


def _from_next_data(props: dict[str, Any], url: str, out: PageResult) -> bool:
    details = props.get("lotDetailsData")
    if isinstance(details, dict) and details.get("lotTitle"):
        out.page_type = ITEM
        stated = str(props.get("lotId") or details.get("lotId") or "")
        out.item_id = own_item_id(url, stated, out=out, claimed_by="page state lotId")
        out.title = clean(details["lotTitle"])
        out.description = clean(details.get("description")) or out.description
        if details.get("autoTranslatedDescription"):
            out.extra["description_translated"] = clean(details["autoTranslatedDescription"])
        seller = details.get("sellerInfo") or {}
        out.seller = clean(seller.get("sellerName") or seller.get("userName")) or out.seller
        bidding = props.get("biddingBlockResponse") or {}
        currency = (props.get("userData") or {}).get("currencyCode") or out.currency
        amount = bidding.get("localizedCurrentBidAmount")
        if isinstance(amount, int | float):
            out.amount, out.currency = float(amount), currency
            out.price_text = format_price(float(amount), currency)
        out.sale_date = _ms_iso(bidding.get("biddingEndTime")) or out.sale_date
        closed = bidding.get("closed", details.get("isClosed"))
        out.status = (
            ("sold" if bidding.get("sold") else "ended") if closed else "open" if closed is False else out.status
        )
        out.photos = photos.dedupe(_images(details))
        out.sources.update(
            {k: "Catawiki __NEXT_DATA__ lotDetailsData" for k in ("title", "photos", "description", "seller")}
        )
        out.sources["price_text"] = "Catawiki __NEXT_DATA__ biddingBlockResponse"
        out.confidence, out.needs_review, out.review_reasons = 1.0, False, []
        return True
    found = props.get("searchLots")
    if isinstance(found, dict) and isinstance(found.get("lots"), list):
        out.page_type = SEARCH
        out.results = [
            SearchResult(
                url=str(lot.get("url") or f"https://www.catawiki.com/en/l/{lot.get('id')}"),
                item_id=str(lot.get("id") or ""),
                title=clean(lot.get("title")),
                thumb=str(lot.get("thumbImageUrl") or ""),
                image=str(lot.get("originalImageUrl") or lot.get("thumbImageUrl") or ""),
            )
            for lot in found["lots"]
            if isinstance(lot, dict) and (lot.get("url") or lot.get("id"))
        ]
        out.sources["results"] = "Catawiki __NEXT_DATA__ searchLots"
        page, per_page, total = props.get("currentPage"), props.get("lotsPerPage"), found.get("total")
        if isinstance(page, int) and isinstance(per_page, int) and isinstance(total, int) and page * per_page < total:
            # the page data gives the count, not the link: Catawiki pages its search with ?page=N
            parts = urlsplit(url)
            query = [(k, v) for k, v in parse_qsl(parts.query) if k != "page"] + [("page", str(page + 1))]
            out.next_page = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
            out.sources["next_page"] = "Catawiki page count (currentPage, lotsPerPage, total) and ?page=N"
        out.needs_review, out.review_reasons = False, []
        return True
    return False


def extract_catawiki(sel: Selector, html: str, url: str) -> PageResult:
    out = extract_generic(sel, html, url)
    out.adapter = "catawiki"
    props = page_props(sel)
    if props and _from_next_data(props, url, out):
        out.reason = ""
        return out
    m = _LOT_ID.search(url)
    lot = _lot(sel, m.group(1)) if m else None
    if lot is None:
        return out
    out.page_type = ITEM
    out.item_id = m.group(1) if m else out.item_id
    out.title = clean(lot.get("title") or lot.get("lotTitle")) or out.title
    out.description = clean(lot.get("description")) or out.description
    bid = lot.get("currentBid") or lot.get("highestBid") or {}
    amount = bid.get("amount") if isinstance(bid, dict) else bid
    if isinstance(amount, int | float):
        currency = (bid.get("currency") if isinstance(bid, dict) else None) or lot.get("currencyCode") or out.currency
        out.amount, out.currency = float(amount), currency
        out.price_text = format_price(float(amount), currency)
    out.sale_date = str(lot.get("biddingEndTime") or lot.get("closeAt") or lot.get("endDate") or out.sale_date)
    if lot.get("isClosed") or lot.get("closed"):
        out.status = "sold" if lot.get("sold") or lot.get("isSold") else "ended"
    elif lot.get("isClosed") is False or lot.get("closed") is False:  # stated open, bidding runs
        out.status = "open"
    imgs = _images(lot)
    if imgs:
        out.photos = photos.dedupe(imgs)
    return out
