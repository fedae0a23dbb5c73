"""Small text, URL and price helpers shared by the adapters."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin, urlsplit

from parsel import Selector, SelectorList


def clean(text: str | None) -> str:
    """Runs of whitespace as one space, none at the ends (the same as re's \\s+ -> " " and strip, in a
    third of the time: str.split splits on exactly the characters \\s matches)."""
    return " ".join((text or "").split())


# class names that hide text from sight and leave it to screen readers ("Details zu " before a title)
_HIDDEN_CLASS = re.compile(
    r"(^|\s)(g-hdn|hdn|hidden|sr-only|visually-?hidden|screen-reader-text|a11y-hidden|offscreen)(\s|$)", re.I
)


def _hidden(el: Any) -> bool:
    style = (el.get("style") or "").replace(" ", "").lower()
    return bool(_HIDDEN_CLASS.search(el.get("class") or "")) or el.get("hidden") is not None or "display:none" in style


def shown_text(el: Any) -> str:
    """An lxml element's text as a reader sees it: text inside elements hidden from sight left out."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if not isinstance(node.tag, str) or node.tag in ("script", "style") or _hidden(node):
            return
        parts.append(node.text or "")
        for child in node:
            # elements part words, but <wbr> only marks where a long word may wrap ("SPURSTANGENKOP<wbr>F")
            glue = "" if child.tag == "wbr" else " "
            parts.append(glue)
            walk(child)
            parts.append(glue + (child.tail or ""))

    walk(el)
    return clean("".join(parts))


def join_text(parts: Iterable[str]) -> str:
    return clean(" ".join(p for p in parts if p and p.strip()))


def visible_text(node: Selector | SelectorList) -> str:
    return join_text(
        node.xpath(".//text()[not(ancestor::script) and not(ancestor::style) and not(ancestor::noscript)]").getall()
    )


@lru_cache(maxsize=4096)  # a search page resolves each of its links several times
def absolute(base: str, url: str | None) -> str:
    url = (url or "").strip()
    if not url or url.startswith(("javascript:", "data:", "mailto:", "#")):
        return ""
    return urljoin(base, url)


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def photo_address(base: str, url: str | None) -> str:
    """A photo URL as the page gives it, resolved against ``base``; unlike :func:`absolute`, one with a
    scheme other than http(s) (javascript:, data:) is kept as it stands, for the spider to refuse with
    its reason rather than lose without one."""
    url = (url or "").strip()
    if not url or url.startswith("#"):
        return ""
    if _SCHEME.match(url) and not url.lower().startswith(("http:", "https:")):
        return url
    return urljoin(base, url)


def photo_refusal(url: str) -> str:
    """Why a photo URL is not fetched ("" where it is): only http(s) photos are, whatever the case of the scheme."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:  # urllib's own checks (a broken [IPv6] host)
        return f"refused: malformed URL ({exc})"
    if scheme in ("http", "https"):
        return ""
    return f"refused: {scheme or 'no'} scheme, only http(s) photos are fetched"


_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "ac", "gov", "ne", "or", "go", "gv", "edu"})


def site_of(url: str) -> str:
    """The registrable domain a URL's host belongs to (www.ebay.de and stores.ebay.de -> ebay.de;
    www.ebay.co.uk -> ebay.co.uk): a site's pages on its sub-domains are one site's."""
    try:
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def same_page(a: str, b: str) -> bool:
    """Equal ignoring query and fragment (tracking parameters differ between links to one item)."""
    sa, sb = urlsplit(a), urlsplit(b)
    return (sa.netloc.lower(), sa.path.rstrip("/")) == (sb.netloc.lower(), sb.path.rstrip("/"))


def unique(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for x in items:
        if x and x not in seen:
            seen.add(x)
            out.append(x)
    return out


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_HEADER_CHARSET = re.compile(rb"^content-type:[^\r\n]*charset\s*=\s*\"?([A-Za-z0-9_.:-]+)", re.I | re.M)


def decode_page(raw: bytes) -> str:
    """A saved page's text in the encoding it declares: byte-order mark, then the charset of raw HTTP
    headers saved before it, then <meta charset>, then UTF-8 (windows-1252 where the bytes are not UTF-8).
    A Shift_JIS or windows-1252 page read as UTF-8 would lose its title's characters."""
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if raw.startswith(bom):
            return raw.decode(codec, errors="replace")
    head = raw[:4096]
    declared = None
    if _STATUS_LINE.match(head[:200].decode("latin-1")):
        end = head.find(b"\r\n\r\n") if b"\r\n\r\n" in head else head.find(b"\n\n")
        m = _HEADER_CHARSET.search(head[: end if end > 0 else len(head)])
        declared = m.group(1).decode("ascii") if m else None
    if declared is None:
        m = _META_CHARSET.search(head)
        declared = m.group(1).decode("ascii") if m else None
    if declared:
        try:
            return raw.decode(declared, errors="replace")
        except LookupError:
            pass  # an unknown charset name: guess as below
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


_STATUS_LINE = re.compile(r"^\s*HTTP/\d(?:\.\d)?\s+\d{3}[^\r\n]*")


def strip_http_headers(page: str) -> tuple[str, str]:
    """A saved page that begins with the raw HTTP response (status line and headers) before the HTML:
    (the HTML, the status line); pages without them come back unchanged with ''."""
    m = _STATUS_LINE.match(page[:200])
    if not m:
        return page, ""
    cut = len(page)
    for sep in ("\r\n\r\n", "\n\n"):
        i = page.find(sep, m.end())
        if i >= 0:
            cut = min(cut, i + len(sep))
    return page[cut:], m.group(0).strip()


def loads_lenient(text: str) -> Any:
    """JSON as sites embed it: sometimes wrapped in comments/CDATA, with stray control characters."""
    text = text.strip()
    text = re.sub(r"^\s*(<!--|//\s*<!\[CDATA\[|<!\[CDATA\[)", "", text)
    text = re.sub(r"(-->|//\s*\]\]>|\]\]>)\s*$", "", text).strip().rstrip(";")
    try:
        return json.loads(text, strict=False)
    except ValueError:
        return json.loads(re.sub(r",\s*([\]}])", r"\1", text), strict=False)


def json_after(html: str, marker: str) -> Any:
    """The JSON value that follows ``marker`` in a script (``window.__data = {...};``)."""
    i = html.find(marker)
    if i < 0:
        return None
    start = i + len(marker)
    while start < len(html) and html[start] in " \t\r\n=:":
        start += 1
    try:
        value, _ = json.JSONDecoder(strict=False).raw_decode(html, start)
        return value
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser follows
        return None


# --- prices -----------------------------------------------------------------------------
_CURRENCY_MARKS = [
    ("US $", "USD"),
    ("US$", "USD"),
    ("C $", "CAD"),
    ("C$", "CAD"),
    ("AU $", "AUD"),
    ("AU$", "AUD"),
    ("HK$", "HKD"),
    ("CHF", "CHF"),
    ("EUR", "EUR"),
    ("GBP", "GBP"),
    ("USD", "USD"),
    ("JPY", "JPY"),
    ("CAD", "CAD"),
    ("AUD", "AUD"),
    ("SEK", "SEK"),
    ("DKK", "DKK"),
    ("NOK", "NOK"),
    ("PLN", "PLN"),
    ("€", "EUR"),
    ("£", "GBP"),
    ("円", "JPY"),
    ("¥", "JPY"),
    ("￥", "JPY"),
    ("₹", "INR"),
    ("$", "USD"),
]
_NUMBER = re.compile(r"\d[\d.,'\u00a0\u202f ]*")


def parse_price(text: str) -> tuple[float | None, str | None]:
    """(amount, ISO currency) of the first price in ``text``; either may be None."""
    text = clean(text)
    currency = next((code for mark, code in _CURRENCY_MARKS if mark in text), None)
    m = _NUMBER.search(text)
    if not m:
        return None, currency
    return _to_number(m.group(0)), currency


def _to_number(raw: str) -> float | None:
    s = re.sub(r"[\s'\u00a0\u202f]", "", raw).rstrip(".,")
    if "," in s and "." in s:
        s = s.replace(",", "") if s.rfind(".") > s.rfind(",") else s.replace(".", "").replace(",", ".")
    elif "," in s:
        head, _, tail = s.rpartition(",")
        # "1,000" is a thousands mark, "12,50" a decimal comma
        s = s.replace(",", "") if len(tail) == 3 else head.replace(",", "") + "." + tail
    elif s.count(".") > 1:
        s = s.replace(".", "")
    try:
        return float(s)
    except ValueError:
        return None


def as_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    return parse_price(str(value))[0]


def format_price(amount: float | None, currency: str | None) -> str:
    if amount is None:
        return ""
    number = f"{amount:,.0f}" if amount == int(amount) else f"{amount:,.2f}"
    return f"{currency} {number}" if currency else number
