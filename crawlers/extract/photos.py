"""Full-size photo URLs: the largest variant of each listing photo, never a thumbnail of it."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from lootwatch.crawlers.extract import variants
from lootwatch.crawlers.extract.text import absolute, unique
from parsel import Selector

_IMAGE_EXT = re.compile(r"\.(jpe?g|png|webp|gif|tiff?|bmp|avif)(\?|$)", re.I)
# attributes galleries use for the large version of a shown <img>
_LARGE_ATTRS = (
    "data-zoom-src",
    "data-zoom-image",
    "data-zoom",
    "data-full",
    "data-full-src",
    "data-large",
    "data-large-src",
    "data-src-large",
    "data-hires",
    "data-original",
    "data-big",
)
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


def looks_like_image(url: str) -> bool:
    return bool(_IMAGE_EXT.search(urlsplit(url).path + ("?" if urlsplit(url).query else "")))


def _largest_srcset(srcset: str) -> str:
    best, best_w = "", -1.0
    for part in srcset.split(","):
        bits = part.strip().split()
        if not bits:
            continue
        w = 1.0
        if len(bits) > 1 and bits[1][:-1].replace(".", "", 1).isdigit():
            w = float(bits[1][:-1]) * (1 if bits[1].endswith("w") else 1000)
        if w > best_w:
            best, best_w = bits[0], w
    return best


def full_size_of_img(img: Selector, base: str) -> str:
    """The largest version an <img> offers: a link around it, a zoom attribute, srcset, then src."""
    link = img.xpath("ancestor::a[1]/@href").get()
    if link and looks_like_image(absolute(base, link)):
        return upgrade(absolute(base, link))
    for attr in _LARGE_ATTRS:
        if img.attrib.get(attr):
            return upgrade(absolute(base, img.attrib[attr]))
    srcset = img.attrib.get("srcset") or img.attrib.get("data-srcset")
    if srcset:
        return upgrade(absolute(base, _largest_srcset(srcset)))
    return upgrade(absolute(base, img.attrib.get("data-src") or img.attrib.get("src")))


def dedupe(urls: list[str]) -> list[str]:
    """Each photo once, at the largest variant among ``urls`` (upgraded where the host allows)."""
    return unique(upgrade(u) for u in variants.largest_of_each([u for u in urls if u]))


_GALLERY = (
    "gallery",
    "carousel",
    "slider",
    "slideshow",
    "photo",
    "image",
    "media",
    "swiper",
    "lightbox",
    "zoom",
)
_NOT_LISTING = (
    "related",
    "similar",
    "recommend",
    "recently",
    "other-lots",
    "more-from",
    "also",
    "sponsored",
    "upsell",
    "cross",
    "footer",
    "header",
    "nav",
    "logo",
    "avatar",
    "seller",
    "banner",
    "ad-",
)


def gallery_photos(sel: Selector, base: str) -> list[str]:
    """Last resort: images inside a gallery-like block that is not a related-items block."""
    out: list[str] = []
    for img in sel.xpath("//img"):
        classes = " ".join(img.xpath("ancestor-or-self::*/@class | ancestor-or-self::*/@id").getall()).lower()
        if any(w in classes for w in _NOT_LISTING) or not any(w in classes for w in _GALLERY):
            continue
        out.append(full_size_of_img(img, base))
    return unique(u for u in dedupe(out) if looks_like_image(u) or "?" in u)
