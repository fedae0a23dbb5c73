"""CSS/XPath selectors from a site entry, for markup that has no structured data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lootwatch.crawlers.extract import xpath
from lootwatch.crawlers.extract.text import absolute, join_text, photo_address, unique
from parsel import Selector

SELECTOR_KEYS = frozenset(
    {
        "result_links",
        "next_page",
        "title",
        "description",
        "price",
        "seller",
        "date",
        "photos",
        "item_id",
        "status",
        "item_url_pattern",
    }
)
_OWN_TEXT = ".//text()[not(ancestor::script) and not(ancestor::style)]"


def _is_xpath(query: str) -> bool:
    """A site selector is XPath when it starts like one, else CSS."""
    return query.startswith(("/", "(", "./"))


def _select(sel: Selector, query: str):  # type: ignore[no-untyped-def]
    q = query.strip()
    return sel.xpath(q) if _is_xpath(q) else sel.css(q)


def _hits(sel: Selector, query: str) -> list[Any]:
    """Raw lxml results of a site selector (compiled once; see :mod:`crawlers.extract.xpath`)."""
    q = query.strip()
    return xpath.run(sel.root, q, css=not _is_xpath(q))


def select_text(sel: Selector, query: str | None) -> str:
    """Text of the first match; an element match (no ::text / ::attr) gives its whole text."""
    if not query:
        return ""
    hits = _hits(sel, query)
    if not hits:
        return ""
    if all(isinstance(h, str) for h in hits):  # ::text / ::attr / text() results
        return join_text(hits)
    if xpath.is_element(hits[0]):
        return join_text(xpath.run(hits[0], _OWN_TEXT))
    return _select_text_parsel(sel, query)  # numbers, comments, mixed unions: parsel's own reading


def _select_text_parsel(sel: Selector, query: str) -> str:
    hits = _select(sel, query)
    first = hits[0]
    if isinstance(first.root, str):
        return join_text(h.get() for h in hits)
    return join_text(first.xpath(_OWN_TEXT).getall())


def select_urls(sel: Selector, query: str | None, base: str, *, photos: bool = False) -> list[str]:
    """URLs the selector finds, resolved; ``photos``: one with a javascript:/data: scheme is kept as it
    stands (see :func:`photo_address`), else it is dropped as no page to follow."""
    if not query:
        return []
    resolve = photo_address if photos else absolute
    hits = _hits(sel, query)
    if not all(isinstance(h, str) or xpath.is_element(h) for h in hits):
        return _select_urls_parsel(sel, query, base, resolve)
    out = []
    for hit in hits:
        if isinstance(hit, str):
            out.append(resolve(base, hit))
        else:  # an element: its link or image source
            out.append(resolve(base, hit.get("href") or hit.get("src") or hit.get("data-src")))
    return unique(out)


def _select_urls_parsel(sel: Selector, query: str, base: str, resolve: Callable[[str, str | None], str]) -> list[str]:
    out = []
    for hit in _select(sel, query):
        if isinstance(hit.root, str):
            out.append(resolve(base, hit.get()))
        else:
            out.append(resolve(base, hit.attrib.get("href") or hit.attrib.get("src") or hit.attrib.get("data-src")))
    return unique(out)
