"""Full-size photo URLs: the largest variant of each listing photo, never a thumbnail of it.

Which URLs are variants of one photo, and which is the largest, is :mod:`crawlers.extract.variants`;
finding the listing's photos on a page is :mod:`crawlers.extract.gallery`. Here: the hosts whose URL
scheme is known to serve a larger variant than the page shows.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from lootwatch.crawlers.extract import variants
from lootwatch.crawlers.extract.text import photo_refusal, unique

_EBAY_SIZE = re.compile(r"/s-l\d+(\.\w+)$")


def upgrade(url: str) -> str:
    """The largest variant where a host's URL scheme is known to serve it (others keep the largest seen)."""
    parts = urlsplit(url)
    host = parts.netloc.lower()
    if host.endswith("ebayimg.com"):
        path = parts.path.replace("/thumbs/images/", "/images/")
        path = _EBAY_SIZE.sub(r"/s-l1600\1", path)
        return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
    if "liveauctioneers.com" in host and parts.query:
        # sizes are query parameters (?height=..&width=..&quality=..); the bare URL is the original
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return url


def photo_key(url: str) -> str:
    """Two URLs with one key are sizes of one photo (see :mod:`crawlers.extract.variants`)."""
    return variants.photo_key(upgrade(url))


def split_fetchable(urls: list[str]) -> tuple[list[str], list[str]]:
    """(the http(s) photo URLs, the others) in their order: the others are refused, each with its reason,
    never dropped unseen."""
    kept = [u for u in urls if u and not photo_refusal(u)]
    return kept, [u for u in urls if u and photo_refusal(u)]


def dedupe(urls: list[str]) -> list[str]:
    """Each photo once, at the largest variant among ``urls`` (upgraded where the host allows)."""
    return unique(upgrade(u) for u in variants.largest_of_each([u for u in urls if u]))
