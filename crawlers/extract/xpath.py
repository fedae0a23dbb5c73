"""Compiled XPath on lxml trees: the queries every page runs, without parsel's per-call and per-result cost.

parsel compiles (and caches) the same XPath, but wraps every node and string it returns in a new
Selector; an item page ran about fifteen such queries, which took more time than parsing the page.
Here a query, CSS or XPath, is translated exactly as parsel translates it (its own CSS translator and
namespaces), compiled once, and evaluated on the lxml element, giving plain strings and elements.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from lxml import etree
from parsel.csstranslator import HTMLTranslator

_TRANSLATOR = HTMLTranslator()
# parsel's namespaces: regular expressions always; EXSLT sets only where a query names them
_RE_NS = "http://exslt.org/regular-expressions"
_SETS_NS = "http://exslt.org/sets"


@lru_cache(maxsize=1024)
def compiled(query: str, css: bool = False) -> etree.XPath:
    """``query`` (CSS where ``css``) compiled as parsel would compile it; ValueError for a bad XPath, as parsel."""
    path = _TRANSLATOR.css_to_xpath(query) if css else query
    namespaces = {"re": _RE_NS, **({"set": _SETS_NS} if "set:" in path else {})}
    try:
        return etree.XPath(path, namespaces=namespaces, smart_strings=False)
    except etree.XPathError as exc:
        raise ValueError(f"XPath error: {exc} in {path}") from exc


def run(node: Any, query: str, css: bool = False) -> list[Any]:
    """Results of ``query`` on an lxml ``node``: strings (text, attributes), elements, or a number in a list."""
    try:
        result = compiled(query, css)(node)
    except etree.XPathError as exc:
        raise ValueError(f"XPath error: {exc} in {query}") from exc
    return result if isinstance(result, list) else [result]


def first(node: Any, query: str, css: bool = False) -> str | None:
    """The first string a text or attribute query gives (parsel's ``.get()``), None when none."""
    for hit in run(node, query, css):
        return hit if isinstance(hit, str) else None
    return None


def strings(node: Any, query: str, css: bool = False) -> list[str]:
    """Every string a text or attribute query gives (parsel's ``.getall()`` on such a query)."""
    return [hit for hit in run(node, query, css) if isinstance(hit, str)]


def is_element(hit: Any) -> bool:
    """An ordinary element (not a comment, processing instruction or entity)."""
    return isinstance(hit, etree._Element) and not isinstance(
        hit, etree._Comment | etree._ProcessingInstruction | etree._Entity
    )
