"""Catawiki: lot JSON in React ``data-props`` attributes (JSON-LD, where present, fills the rest)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from lootwatch.crawlers.extract import photos
from lootwatch.crawlers.extract.generic import extract_generic
from lootwatch.crawlers.extract.result import ITEM, PageResult
from lootwatch.crawlers.extract.text import clean, format_price, loads_lenient
from parsel import Selector

_LOT_ID = re.compile(r"/l/(\d+)")
_SIZE_KEYS = ("original", "xl", "extraLarge", "large", "url", "l", "medium", "m")


def _props(sel: Selector) -> Iterator[Any]:
    for raw in sel.xpath("//@data-props").getall():
        try:
            yield loads_lenient(raw)
        except ValueError:
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


def extract_catawiki(sel: Selector, html: str, url: str) -> PageResult:
    out = extract_generic(sel, html, url)
    out.adapter = "catawiki"
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
