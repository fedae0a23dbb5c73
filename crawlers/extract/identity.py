"""A listing's item id: read from the URL fetched, never taken on the page's word.

A listing is stored under (site, item id), so whoever chooses the id chooses which record a page
writes. The page's rel=canonical, its JSON-LD sku/productID and its page state are written by the
site, and on a marketplace partly by the seller: a page claiming another listing's id would overwrite
that listing's record. So the id comes from the fetched URL; an id the page states is taken only
where the fetched URL itself carries it (Catawiki's /l/12345-title and its lotId 12345), and a claim
the URL does not carry is kept apart for a person to see.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from lootwatch.crawlers.extract.result import PageResult

_PAGE_SUFFIX = re.compile(r"\.(html?|php|aspx?|jsp)$")
# query keys that name an item, where the path names none (item.php?id=123)
_ID_KEYS = re.compile(
    r"^(id|item|itemid|item_id|lot|lotid|lot_id|lotnr|product|productid|listing|listingid|sku)$", re.I
)


def item_id_from_url(url: str) -> str:
    """The last path segment holding a digit: /item/z659638164, /lot/123-some-title -> 123-some-title.

    Where no segment holds one, an id-named query value (item.php?id=123 -> 123); else the last segment.
    """
    parts = urlsplit(url)
    segments = [_PAGE_SUFFIX.sub("", s) for s in parts.path.split("/") if s]
    for seg in reversed(segments):
        if any(c.isdigit() for c in seg):
            m = re.match(r"^(\d+)[_-][A-Za-z]", seg)  # "12345_bronze-figure": the number is the id
            if m:
                return m.group(1)
            m = re.search(r"[A-Za-z][_-](\d{4,})$", seg)  # "bronze-figure-18482281": so is this one
            return m.group(1) if m else seg
    for key, value in parse_qsl(parts.query):
        if _ID_KEYS.match(key) and any(c.isdigit() for c in value):
            return value
    return segments[-1] if segments else ""


def carried_by_url(item_id: str, url: str) -> bool:
    """``item_id`` stands whole in the fetched URL's path, or is a whole query value of it."""
    item_id = item_id.strip()
    if not item_id:
        return False
    parts = urlsplit(url)
    token = re.compile(rf"(?<![A-Za-z0-9]){re.escape(item_id)}(?![A-Za-z0-9])", re.I)
    if token.search(parts.path):
        return True
    return any(value == item_id for _, value in parse_qsl(parts.query))


def own_item_id(url: str, claimed: str = "", *, out: PageResult | None = None, claimed_by: str = "") -> str:
    """The item id of the listing at ``url``: ``claimed`` where the URL carries it, else the URL's own.

    A claim the URL does not carry is recorded on ``out`` (``extra["claimed_item_id"]``, with where it
    came from) and never used.
    """
    claimed = (claimed or "").strip()
    if claimed and carried_by_url(claimed, url):
        return claimed
    own = item_id_from_url(url)
    if claimed and claimed != own and out is not None:
        out.extra["claimed_item_id"] = claimed
        out.extra["claimed_item_id_from"] = claimed_by or "the page"
    return own
