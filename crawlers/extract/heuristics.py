"""Markup heuristics for what structured data leaves out: shown price, search cards, next-page link."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from lootwatch.crawlers.extract import xpath
from lootwatch.crawlers.extract.result import SearchResult
from lootwatch.crawlers.extract.text import absolute, clean, join_text, parse_price
from lxml import html as lxml_html
from parsel import Selector

_PRICE_CLASS = re.compile(
    r"(^|[-_ ])(price|amount|current-?bid|bid-?amount)([-_ ]?value|[-_ ]?amount|[-_ ]?primary)?([-_ ]|$)",
    re.I,
)
_SKIP_PRICE = re.compile(r"shipping|postage|delivery|strike|was|original|old|save|discount", re.I)


_PRICE_NODES = ".//*[@itemprop='price' or @data-testid='price' or contains(@class,'price') or contains(@class,'Price')]"
_OWN_TEXT = ".//text()[not(ancestor::script) and not(ancestor::style)]"


def price_candidates(sel: Selector) -> list[str]:
    return _price_texts(sel.root)


def price_texts_of(node: Any) -> list[str]:
    """Shown prices inside one lxml element (a search card)."""
    return _price_texts(node)


def _price_texts(node: Any) -> list[str]:
    """Shown prices inside an lxml ``node`` (lxml itself: this runs for every card of a search page)."""
    nodes = [n for n in xpath.run(node, _PRICE_NODES) if _is_price_node(n)]
    inner = {id(n) for n in nodes}  # the list holds the proxies: lxml hands out the same ones below
    out = []
    for n in nodes:
        # the innermost price element: "現在 <span class=priceValue>1,000円</span>" gives "1,000円"
        if any(id(d) in inner for d in n.iterdescendants()):
            continue
        text = join_text(xpath.run(n, _OWN_TEXT))
        if text and any(c.isdigit() for c in text) and len(text) <= 40:
            out.append(text)
    return out


def _is_price_node(n: Any) -> bool:
    cls = n.get("class", "") + " " + n.get("data-testid", "")
    if _SKIP_PRICE.search(cls):
        return False
    return bool(_PRICE_CLASS.search(cls)) or n.get("itemprop") == "price" or n.get("data-testid") == "price"


def shown_price(sel: Selector, amount: float | None) -> str:
    """Price text as the page shows it; agrees with the structured amount when one is known."""
    cands = price_candidates(sel)
    if amount is not None:
        for c in cands:
            if parse_price(c)[0] == amount:
                return c
        return ""
    return cands[0] if cands else ""


_NEXT_WORDS = (
    r"next( page)?|suivante?|page suivante|weiter|nächste( seite)?|siguiente|avanti|successiva|volgende|"
    r"próxima|proxima|następna|nästa|næste|neste|seuraava|次へ|次のページ|次|下一页|다음"
)
_NEXT_TEXT = re.compile(r"^\W*(" + _NEXT_WORDS + r"|›|»|>|→|>>)\W*$", re.I)
_NEXT_LABEL = re.compile(r"(^|\W)(" + _NEXT_WORDS + r")(\W|$)", re.I)
# "next image" of a photo gallery, "previous page": not the link to the next page of results
_NOT_PAGING = re.compile(r"prev|zurück|précédent|anterior|前|slide|image|photo|picture|画像|bild", re.I)
_PAGE_PARAM = re.compile(r"[?&](?:page|p|pg|pn|_pgn|pagenum|page_number|seite|pagina|apage)=(\d+)", re.I)
_PAGE_PATH = re.compile(r"/(?:page|p|seite|pagina)[/-](\d+)", re.I)


def next_page(sel: Selector, base: str) -> str:
    return next_page_info(sel.root, base)[0]


def next_page_info(root: Any, base: str) -> tuple[str, str]:
    """(next page URL, the rule that found it); ('', 'javascript') where the control has no address."""
    for xp, rule in (
        ("//a[contains(concat(' ', normalize-space(@rel), ' '), ' next ')]", "rel=next link"),
        ("//a[@aria-label or @title or @type='next']", "aria-label / title"),
        ("//*[contains(@class,'next') or contains(@class,'Next')][not(self::a)]//a", "next-classed block"),
        ("//a[contains(@class,'next') or contains(@class,'Next')]", "next-classed link"),
        ("//link[@rel='next']", "<link rel=next>"),
    ):
        for a in xpath.run(root, xp):
            label = a.get("aria-label") or a.get("title") or ("next" if a.get("type") == "next" else "")
            if rule == "aria-label / title" and not _NEXT_LABEL.search(label):
                continue
            if rule == "aria-label / title" and _NOT_PAGING.search(a.get("aria-label") or a.get("title") or ""):
                continue
            url = absolute(base, a.get("href"))
            if url and url.split("#")[0] != base.split("#")[0] and _plausible_next(url, base):
                return url, rule
    for a in xpath.run(root, "//a"):
        if _NEXT_TEXT.match(clean(a.text_content())):
            url = absolute(base, a.get("href"))
            if url and url.split("#")[0] != base.split("#")[0]:
                return url, "'next' text"
            return "", "javascript"
    numbered = _numbered_next(root, base)
    if numbered:
        return numbered, "page-number link"
    for node in xpath.run(root, "//button | //*[@role='button']"):
        label = clean(node.text_content()) + " " + (node.get("aria-label") or "")
        aria = node.get("aria-label") or ""
        if _NOT_PAGING.search(aria):
            continue
        if _NEXT_TEXT.match(clean(node.text_content())) or _NEXT_LABEL.search(aria):
            return "", "javascript"
        if re.search(r"load more|show more|mehr laden|voir plus|charger plus|もっと見る|ver más", label, re.I):
            return "", "javascript"
    return "", ""


def _plausible_next(url: str, base: str) -> bool:
    """A next page stays on the site and near the page: same path, a path beside it, or a page number
    (sites put rel=next on menu and home links too)."""
    a, b = urlsplit(url), urlsplit(base)
    if a.netloc != b.netloc:
        return False
    if a.path.rstrip("/") == b.path.rstrip("/") or _page_number(url) is not None:
        return True
    first_a = a.path.strip("/").split("/")[0]
    return bool(first_a) and first_a == b.path.strip("/").split("/")[0]


def _page_number(url: str) -> int | None:
    m = _PAGE_PARAM.search(url) or _PAGE_PATH.search(url)
    return int(m.group(1)) if m else None


def _numbered_next(root: Any, base: str) -> str:
    """The link to page n+1 among page-number links (n from the URL, or the page marked current)."""
    current = _page_number(base)
    if current is None:
        marked = xpath.run(
            root,
            "//*[@aria-current='page' or contains(concat(' ', normalize-space(@class), ' '), ' active ') "
            "or contains(concat(' ', normalize-space(@class), ' '), ' current ')]",
        )
        texts = [clean(m.text_content()) for m in marked]
        current = next((int(t) for t in texts if t.isdigit() and len(t) < 5), 1)
    want = str(current + 1)
    for a in xpath.run(root, "//a[@href]"):
        if clean(a.text_content()) == want:
            url = absolute(base, a.get("href"))
            if url and (_page_number(url) == current + 1 or _page_number(url) is None):
                return url
    return ""


def enrich_results(html: str, base: str, urls: list[str]) -> list[SearchResult]:
    """Title, price and thumbnail of each result from the card around its link."""
    doc = lxml_html.fromstring(html)
    links: dict[str, list] = {}
    for a in doc.iter("a"):
        href = absolute(base, a.get("href"))
        if href:
            links.setdefault(_key(href), []).append(a)
    wanted = {_key(u) for u in urls}
    below = _results_below(links, wanted)
    out = []
    for url in urls:
        anchors = links.get(_key(url), [])
        title = ""
        for a in anchors:
            t = clean(a.get("title") or a.get("data-auction-title") or a.text_content())
            if len(t) > len(title):
                title = t
        card = _card(anchors[0], below, base) if anchors else None
        price, thumb = "", ""
        if card is not None:
            prices = _price_texts(card)
            price = prices[0] if prices else ""
            if not title:
                title = clean(xpath.first(card, "(.//img/@alt)[1]"))
            img = xpath.run(card, "(.//img)[1]")
            if img:
                thumb = absolute(base, img[0].get("data-src") or img[0].get("src"))
        out.append(SearchResult(url=url, title=title, price_text=price, thumb=thumb))
    return out


@lru_cache(maxsize=4096)
def _key(url: str) -> str:
    s = urlsplit(url)
    return s.netloc.lower() + s.path.rstrip("/")


def _results_below(links: dict[str, list], wanted: set[str]) -> dict[Any, set[str]]:
    """For every element, the result keys linked inside it: one walk up from each result link,
    instead of re-reading every link of every ancestor for every card."""
    below: dict[Any, set[str]] = {}
    for key in wanted:
        for a in links.get(key, []):
            node = a
            while node is not None:
                below.setdefault(node, set()).add(key)
                node = node.getparent()
    return below


def _card(anchor, below: dict[Any, set[str]], base: str):  # type: ignore[no-untyped-def]
    """Largest ancestor of ``anchor`` that holds no link to another result."""
    own = _key(absolute(base, anchor.get("href")))
    card, node = anchor, anchor.getparent()
    while node is not None and node.tag not in ("body", "html"):
        if below.get(node, set()) - {own}:
            break
        card, node = node, node.getparent()
    return card
