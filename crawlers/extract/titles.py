"""Listing titles without the site's name: "Bronze figure - Etsy", "Vase | Catawiki", "X by メルカリ".

The site's name is learned from the page, not from a list: og:site_name, application-name, the
host's own name (etsy in www.etsy.com), and the part of <title> that is left when the page's <h1>
is taken out ("<h1> | Site"), then cut where it ends or starts a title after a separator.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from lootwatch.crawlers.extract import xpath
from lootwatch.crawlers.extract.text import clean

_SEP = r"(?:\s*[|｜:：·•»«~—–-]\s*|\s+(?:by|on|at|auf|bei|sur|chez|en|op|su|da)\s+|\s*[（(]\s*)"
_SEP_AT_END = re.compile(_SEP + r"$", re.I)
_HOST_SKIP = {"www", "m", "en", "de", "fr", "jp", "shop", "store", "auctions", "auction", "com", "co", "net", "org"}


def site_names(root: Any, url: str) -> list[str]:
    """Names the page gives its site, longest first."""
    names: list[str] = []
    for q in (
        "//meta[@property='og:site_name']/@content",
        "//meta[@name='application-name']/@content",
        "//meta[@name='apple-mobile-web-app-title']/@content",
        "//meta[@name='twitter:site']/@content",
    ):
        for v in xpath.strings(root, q):
            v = clean(v).lstrip("@")
            if 1 < len(v) <= 60:
                names.append(v)
    host = urlsplit(url).netloc.lower().split(":")[0]
    labels = [x for x in host.split(".") if x not in _HOST_SKIP and len(x) > 2]
    if labels:
        names.append(labels[0])
        parts = host.split(".")
        # the registrable name: "ebay.de", "yahoo.co.jp" (not "co.jp")
        keep = 3 if len(parts) > 2 and parts[-2] in ("co", "com", "ne", "or", "ac", "go", "org", "net") else 2
        names.append(".".join(parts[-keep:]))
    learned = _learned_from_title(root)
    if learned:
        names.append(learned)
    out: list[str] = []
    for n in sorted(set(names), key=len, reverse=True):
        if n:
            out.append(n)
    return out


def _learned_from_title(root: Any) -> str:
    """What <title> adds to the <h1>: "Vase - Maison X" with <h1> "Vase" gives "Maison X"."""
    title = clean(xpath.first(root, "//title/text()"))
    h1 = clean(" ".join(xpath.strings(root, "(//h1)[1]//text()")))
    if not title or not h1 or len(h1) < 3 or h1 == title:
        return ""
    if title.startswith(h1):
        rest = title[len(h1) :]
        m = re.match(_SEP + r"(.{2,60})$", rest, re.I)
        return clean(m.group(1)) if m else ""
    if title.endswith(h1):
        rest = title[: -len(h1)]
        m = re.match(r"^(.{2,60}?)" + _SEP + r"$", rest, re.I)
        return clean(m.group(1)) if m else ""
    return ""


def clean_title(title: str, names: list[str]) -> str:
    """``title`` without a site name before or after a separator; unchanged where nothing would remain."""
    title = clean(title)
    for _ in range(2):  # "Vase | Lot 12 | Site" keeps "Vase | Lot 12"; a name on both ends goes from both
        before = title
        for name in names:
            esc = re.escape(name)
            tail = re.compile(_SEP + esc + r"(?:\.[a-z]{2,3}){0,2}\s*[)）]?\s*$", re.I)
            head = re.compile(r"^\s*" + esc + r"(?:\.[a-z]{2,3}){0,2}" + _SEP, re.I)
            for rx in (tail, head):
                cut = rx.sub("", title).strip()
                if cut and len(cut) >= 3 and cut != title:
                    title = cut
        if title == before:
            break
    return _SEP_AT_END.sub("", title).strip() or title
