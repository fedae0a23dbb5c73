"""CSS/XPath selectors from a site entry, for markup that has no structured data."""

from __future__ import annotations

from parsel import Selector

from crawlers.extract.text import absolute, join_text, unique

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


def _select(sel: Selector, query: str):  # type: ignore[no-untyped-def]
    q = query.strip()
    return sel.xpath(q) if q.startswith(("/", "(", "./")) else sel.css(q)


def select_text(sel: Selector, query: str | None) -> str:
    """Text of the first match; an element match (no ::text / ::attr) gives its whole text."""
    if not query:
        return ""
    hits = _select(sel, query)
    if not hits:
        return ""
    first = hits[0]
    if isinstance(first.root, str):  # ::text / ::attr / text() results
        return join_text(h.get() for h in hits)
    return join_text(first.xpath(".//text()[not(ancestor::script) and not(ancestor::style)]").getall())


def select_urls(sel: Selector, query: str | None, base: str) -> list[str]:
    if not query:
        return []
    out = []
    for hit in _select(sel, query):
        if isinstance(hit.root, str):
            out.append(absolute(base, hit.get()))
        else:  # an element: its link or image source
            out.append(absolute(base, hit.attrib.get("href") or hit.attrib.get("src") or hit.attrib.get("data-src")))
    return unique(out)
