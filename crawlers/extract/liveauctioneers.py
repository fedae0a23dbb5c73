"""LiveAuctioneers: the page-state JSON (``window.__data``) carries items, photos and prices."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from lootwatch.crawlers.extract import photos
from lootwatch.crawlers.extract.generic import extract_generic
from lootwatch.crawlers.extract.identity import own_item_id
from lootwatch.crawlers.extract.result import ITEM, SEARCH, PageResult, SearchResult
from lootwatch.crawlers.extract.text import clean, format_price, json_after
from parsel import Selector

_ITEM_ID = re.compile(r"/item/(\d+)")
_STATE_MARKERS = ("window.__data", "window.__INITIAL_STATE__", "window.__PRELOADED_STATE__")


def page_state(html: str) -> dict[str, Any]:
    for marker in _STATE_MARKERS:
        state = json_after(html, marker)
        if isinstance(state, dict):
            return state
    return {}


def _by_id(state: dict, key: str) -> dict[str, Any]:
    node = state.get(key) or {}
    return node.get("byId", node) if isinstance(node, dict) else {}


def photo_url(summary: dict, index: Any) -> str:
    seller, catalog, item = summary.get("sellerId"), summary.get("catalogId"), summary.get("itemId")
    version = summary.get("imageVersion")
    url = f"https://p1.liveauctioneers.com/{seller}/{catalog}/{item}_{index}_x.jpg"
    return f"{url}?version={version}" if version else url


def extract_liveauctioneers(sel: Selector, html: str, url: str) -> PageResult:
    out = extract_generic(sel, html, url)
    out.adapter = "liveauctioneers"
    state = page_state(html)
    summaries = _by_id(state, "itemSummary")
    details = _by_id(state, "itemDetail")
    m = _ITEM_ID.search(url)
    summary = summaries.get(m.group(1)) if m else None
    if isinstance(summary, dict):
        _fill_item(out, summary, details.get(m.group(1), {}) if m else {})
    elif summaries and not out.results:
        out.page_type = SEARCH
        for item_id, s in summaries.items():
            if not isinstance(s, dict):
                continue
            slug = s.get("slug") or ""
            out.results.append(
                SearchResult(
                    url=f"https://www.liveauctioneers.com/item/{item_id}{'_' + slug if slug else ''}",
                    item_id=str(item_id),
                    title=clean(s.get("title")),
                    price_text=format_price(_price(s), s.get("currency")),
                    image=photo_url(s, (s.get("photos") or [1])[0]),
                )
            )
    return out


def _price(s: dict) -> float | None:
    for key in ("salePrice", "leadingBid", "startPrice", "lowBidEstimate"):
        v = s.get(key)
        if isinstance(v, int | float) and v > 0:
            return float(v)
    return None


def _fill_item(out: PageResult, s: dict, detail: dict) -> None:
    out.page_type = ITEM
    out.item_id = own_item_id(out.url, str(s.get("itemId") or ""), out=out, claimed_by="page state itemId")
    out.title = clean(s.get("title")) or out.title
    out.description = clean(detail.get("description") if isinstance(detail, dict) else "") or out.description
    out.seller = clean(s.get("sellerName")) or out.seller
    amount = _price(s)
    if amount is not None:
        out.amount, out.currency = amount, s.get("currency") or out.currency
        out.price_text = format_price(amount, out.currency)
    ts = s.get("saleStartTs") or s.get("lotEndTimeEstimatedTs")
    if isinstance(ts, int | float) and ts > 0:
        out.sale_date = datetime.fromtimestamp(ts, UTC).isoformat()
    if s.get("isSold"):
        out.status = "sold"
    elif s.get("isPassed") or s.get("isCatalogDone"):
        out.status = "ended"
    else:
        out.status = "open"
    indexes = s.get("photos") or []
    if indexes and s.get("sellerId"):
        out.photos = photos.dedupe([photo_url(s, i) for i in indexes])
