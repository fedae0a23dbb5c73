"""Search and catalogue pages with no adapter: the grid of repeated listing cards.

A results page repeats one card structure (same tag and classes) under one parent, each card with a
link to its listing, a title and a thumbnail. The largest such set of sibling cards is the result
list; other sets of the same card structure elsewhere on the page (a grid split in rows) join it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lootwatch.crawlers.extract import heuristics, xpath
from lootwatch.crawlers.extract.gallery import img_variants
from lootwatch.crawlers.extract.result import SearchResult
from lootwatch.crawlers.extract.text import absolute, clean, same_page, shown_text, site_of
from lootwatch.crawlers.extract.variants import largest_of_each

MIN_CARDS = 3
_SKIP = ("header", "footer", "nav", "aside")
# blocks of other lists: carousels of recommendations, recently viewed, menus
_NOT_RESULTS = re.compile(
    r"recently|recommend|sponsor|footer|header|(^|[-_ ])nav|menu|breadcrumb|pagination|carousel|slider|swiper|"
    r"related|similar|also-?(like|viewed|bought)|more-?from|you-?may|other-?(lots|items)",
    re.I,
)


@dataclass
class CardGrid:
    results: list[SearchResult]
    signature: str
    container: Any


def _signature(node: Any) -> str:
    """Tag and first class: cards of one list share them, while modifier classes (s-card--sold) vary."""
    classes = (node.get("class") or "").split()
    return f"{node.tag}.{classes[0]}" if classes else node.tag


def _card_link(card: Any, base: str) -> tuple[str, Any]:
    """The card's listing link: the href most of its links share (image and title both link to it)."""
    counts: dict[str, int] = {}
    first: dict[str, Any] = {}
    anchors = [card] if card.tag == "a" else list(card.iter("a"))
    for a in anchors:
        href = absolute(base, a.get("href"))
        if not href or same_page(href, base) or href.startswith(("mailto:", "tel:")):
            continue
        if site_of(href) != site_of(base):  # share buttons, the seller's own site (a sub-domain is the site's)
            continue
        if urlsplit(href).scheme not in ("http", "https"):
            continue
        key = href.split("#")[0]
        counts[key] = counts.get(key, 0) + 1 + (2 if list(a.iter("img")) else 0) + (1 if clean(a.text_content()) else 0)
        first.setdefault(key, a)
    if not counts:
        return "", None
    best = max(counts, key=lambda k: counts[k])
    return best, first[best]


def _card_title(card: Any, link: Any) -> str:
    for q in (
        "(.//*[self::h2 or self::h3 or self::h4 or self::h5])[1]",
        "(.//*[contains(@class,'title')])[1]",
    ):
        found = xpath.run(card, q)
        t = shown_text(found[0]) if found else ""
        if len(t) >= 3:
            return t
    best = ""
    for a in card.iter("a") if card.tag != "a" else [card]:
        t = clean(a.get("title") or a.text_content())
        if len(t) > len(best):
            best = t
    if len(best) < 3:
        best = clean(xpath.first(card, "(.//img/@alt)[1]") or link.get("title") or "")
    return best


def _usable(node: Any) -> bool:
    while node is not None:
        if node.tag in _SKIP or _NOT_RESULTS.search(f"{node.get('class') or ''} {node.get('id') or ''}"):
            return False
        node = node.getparent()
    return True


def find_cards(root: Any, base: str) -> CardGrid | None:
    """The page's result cards, or None where no set of at least MIN_CARDS repeated cards is found."""
    parents: dict[Any, dict[str, list[Any]]] = {}
    for img in _thumbnails(root):
        # walk up from each thumbnail: every ancestor that has siblings of its own structure is a card candidate
        node = img
        for _ in range(14):
            parent = node.getparent()
            if parent is None or parent.tag in ("body", "html"):
                break
            parents.setdefault(parent, {}).setdefault(_signature(node), [])
            if node not in parents[parent][_signature(node)]:
                parents[parent][_signature(node)].append(node)
            node = parent
    grids: list[tuple[int, str, Any, list[Any]]] = []
    for parent, by_sig in parents.items():
        for sig, nodes in by_sig.items():
            if len(nodes) >= MIN_CARDS:
                grids.append((len(nodes), sig, parent, nodes))
    grids.sort(key=lambda g: -g[0])
    for _n, sig, parent, nodes in grids:
        if not _usable(parent):
            continue
        results = _unique(_read_cards(nodes, base))
        if len(results) >= MIN_CARDS:
            # the same card structure under other parents: one grid split in rows or sections
            for _n2, sig2, parent2, nodes2 in grids:
                if sig2 == sig and parent2 is not parent and _usable(parent2):
                    more = _read_cards(nodes2, base)
                    seen = {r.url for r in results}
                    results += [r for r in more if r.url not in seen]
            return CardGrid(results, sig, parent)
    return None


_BG_URL = re.compile(r"background(?:-image)?\s*:[^;]*url\(\s*['\"]?([^'\")]+)", re.I)
_BG_ATTRS = ("data-bg", "data-background", "data-background-image", "data-bg-src")


def _thumbnails(root: Any) -> list[Any]:
    """Elements showing a thumbnail: <img>, and elements with a (lazy) CSS background image."""
    found = list(root.iter("img"))
    found += [
        n
        for n in xpath.run(root, ".//*[@data-bg or @data-background or @data-background-image or @data-bg-src]")
        if n.tag != "img"
    ]
    found += [n for n in xpath.run(root, ".//*[contains(@style,'url(')]") if n.tag != "img"]
    return found


def _thumb_of(node: Any, base: str) -> list[str]:
    if node.tag == "img":
        return img_variants(node, base)
    for attr in _BG_ATTRS:
        if node.get(attr):
            return [absolute(base, node.get(attr))]
    m = _BG_URL.search(node.get("style") or "")
    return [absolute(base, m.group(1))] if m else []


def _unique(results: list[SearchResult]) -> list[SearchResult]:
    seen: set[str] = set()
    out = []
    for r in results:
        if r.url not in seen:
            seen.add(r.url)
            out.append(r)
    return out


def _read_cards(nodes: list[Any], base: str) -> list[SearchResult]:
    out: list[SearchResult] = []
    for card in nodes:
        url, link = _card_link(card, base)
        if not url:
            continue
        shown = [n for n in _thumbnails(card) if _thumb_of(n, base)] or ([card] if _thumb_of(card, base) else [])
        if not shown:
            continue
        title = _card_title(card, link)
        if not title:
            continue
        thumb_variants = _thumb_of(shown[0], base)
        first = shown[0]
        shown_src = first.get("data-src") or first.get("src") if first.tag == "img" else ""
        thumb = absolute(base, shown_src) or thumb_variants[0]
        prices = heuristics.price_texts_of(card)
        out.append(
            SearchResult(
                url=url,
                title=title,
                price_text=prices[0] if prices else "",
                thumb=thumb,
                image=(largest_of_each(thumb_variants) or [""])[0],
            )
        )
    # a set where most cards lack a distinct link is navigation, not results
    if len({r.url for r in out}) < max(MIN_CARDS, len(out) // 2):
        return []
    return out
