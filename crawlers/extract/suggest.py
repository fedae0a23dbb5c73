"""A sites.toml entry for a page: CSS selectors that find again what extraction found on it.

Each selector is built from the elements that hold the extracted value (the <img> of each photo, the
link of each result, the title heading, the price, the next-page link): their nearest common
ancestor, named by id or by its stable classes, so an analyst can pin a site's layout down where the
generic rules were unsure.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from lootwatch.crawlers.extract import xpath
from lootwatch.crawlers.extract.gallery import img_variants
from lootwatch.crawlers.extract.result import SEARCH, UNKNOWN, PageResult
from lootwatch.crawlers.extract.text import absolute, clean
from lootwatch.crawlers.extract.variants import photo_key

_UNSTABLE = re.compile(r"\d{3,}|[a-z0-9]{6,}_[a-z0-9]{4,}|^css-|^sc-|^jsx-|--[a-z0-9]{5,}$|active|selected|current")


def _stable(cls: str) -> bool:
    """Not a generated class name (styled-components "fIeRnn", CSS-module hashes, state classes)."""
    if _UNSTABLE.search(cls) or not cls.isascii():
        return False
    return not (
        cls.isalpha() and 5 <= len(cls) <= 8 and any(c.isupper() for c in cls[1:]) and cls[1:] != cls[1:].upper()
    )


def css_of(node: Any) -> str:
    """A short CSS selector for ``node``: #id, or tag.class.class (stable-looking classes only)."""
    node_id = node.get("id") or ""
    if node_id and not _UNSTABLE.search(node_id):
        return f"#{node_id}"
    classes = [c for c in (node.get("class") or "").split() if _stable(c)][:2]
    return node.tag + "".join(f".{c}" for c in classes)


def _path_css(node: Any, depth: int = 2) -> str:
    """``node``'s selector, prefixed by an ancestor's where it alone names nothing distinctive."""
    own = css_of(node)
    if own.startswith("#") or "." in own or depth == 0:
        return own
    parent = node.getparent()
    if parent is None or parent.tag in ("body", "html"):
        return own
    return f"{_path_css(parent, depth - 1)} > {own}"


def _common_ancestor(nodes: list[Any]) -> Any:
    if not nodes:
        return None
    chains = []
    for n in nodes:
        chain = []
        while n is not None:
            chain.append(n)
            n = n.getparent()
        chains.append(chain[::-1])
    common = None
    for level in zip(*chains, strict=False):
        if all(x is level[0] for x in level):
            common = level[0]
        else:
            break
    return common


def suggest_selectors(root: Any, page: PageResult) -> dict[str, str]:
    """Selectors for the fields ``page`` holds, read from the page's tree ``root``."""
    base = page.url
    out: dict[str, str] = {}
    if page.page_type == SEARCH and page.results:
        wanted = {_link_key(r.url) for r in page.results}
        anchors = [a for a in root.iter("a") if _link_key(absolute(base, a.get("href"))) in wanted]
        card = _common_ancestor(anchors)
        if card is not None and anchors:
            # the child of the grid that holds each card
            child = anchors[0]
            while child.getparent() is not None and child.getparent() is not card:
                child = child.getparent()
            pattern = _item_url_pattern([r.url for r in page.results])
            only = ""
            if pattern:
                # written as the page writes its links, anchored at their start: a share link that
                # carries the listing's address in its query must not match
                raw = (anchors[0].get("href") or "").strip()
                origin = "" if raw.startswith("/") else "{0.scheme}://{0.netloc}".format(urlsplit(page.results[0].url))
                only = f"[href^='{origin}{pattern}']"
            out["result_links"] = f"{_path_css(card)} > {css_of(child)} a{only}::attr(href)"
            if pattern:
                out["item_url_pattern"] = re.escape(pattern)
    if page.page_type == UNKNOWN:
        guess = _repeated_link_class(root, base)
        if guess:
            out["result_links"] = guess
    if page.next_page:
        for a in root.iter("a"):
            if absolute(base, a.get("href")) == page.next_page:
                out["next_page"] = f"{_path_css(a)}::attr(href)"
                break
    if page.title:
        for h in xpath.run(root, "//h1 | //h2 | //*[contains(@class,'title')]"):
            if clean(h.text_content()) == page.title:
                out["title"] = _path_css(h)
                break
    if page.price_text:
        for n in xpath.run(root, "//body//*[not(self::script) and not(self::style)]"):
            if clean(n.text_content()) == page.price_text:
                out["price"] = _path_css(n)
                break
    if page.photos:
        keys = {photo_key(p) for p in page.photos}
        imgs = [i for i in root.iter("img") if any(photo_key(v) in keys for v in img_variants(i, base))]
        holder = _common_ancestor(imgs) if len(imgs) > 1 else (imgs[0].getparent() if imgs else None)
        if holder is not None:
            out["photos"] = f"{_path_css(holder)} img"
    return out


def _repeated_link_class(root: Any, base: str) -> str:
    """On a page the rules could not read: the link class most used for distinct pages of the site, as a
    guess at its result links (``a.lot-link``), for the analyst to confirm."""
    host = urlsplit(base).netloc
    targets: dict[str, set[str]] = {}
    for a in root.iter("a"):
        href = absolute(base, a.get("href"))
        if not href or urlsplit(href).netloc != host or _link_key(href) == _link_key(base):
            continue
        for cls in (a.get("class") or "").split():
            if _stable(cls) and not re.search(r"nav|menu|logo|footer|header|next|prev|page", cls, re.I):
                targets.setdefault(cls, set()).add(_link_key(href))
    if not targets:
        return ""
    cls, hrefs = max(targets.items(), key=lambda kv: len(kv[1]))
    return f"a.{cls}::attr(href)" if len(hrefs) >= 2 else ""


def _link_key(url: str) -> str:
    s = urlsplit(url)
    return s.netloc.lower() + s.path.rstrip("/")


def _item_url_pattern(urls: list[str]) -> str:
    """A regex for the listing links, from the path prefix they share: /lot/123-x and /lot/456-y give /lot/\\d+."""
    paths = [urlsplit(u).path for u in urls]
    first = [p.split("/")[1] if p.count("/") > 1 else "" for p in paths]
    if first and all(f == first[0] and f for f in first) and all(re.search(r"\d", p) for p in paths):
        return f"/{first[0]}/"
    return ""


def site_entry(page: PageResult, selectors: dict[str, str]) -> str:
    """A sites.toml table for the page's site."""
    host = urlsplit(page.url).netloc.lower()
    name = re.sub(r"^www\.", "", host).replace(".", "-")
    lines = [
        f"[sites.{name}]",
        f'start_urls = ["{page.url}"]'
        if page.page_type == SEARCH
        else 'start_urls = ["https://..."]  # a search or category page of this site, not an item page',
        f'adapter = "{page.adapter}"',
    ]
    if page.extra.get("paging") == "javascript":
        lines.append("needs_js = true")
    lines += ['cadence = "12h"', "max_pages = 5", "download_delay = 5.0"]
    if selectors:
        lines.append(f"[sites.{name}.selectors]")
        for key, value in selectors.items():
            lines.append(f"{key} = {_toml_str(value)}")
    return "\n".join(lines)


def _toml_str(value: str) -> str:
    return "'" + value + "'" if "'" not in value else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
