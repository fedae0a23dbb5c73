"""The listing's own photos on a page no adapter knows: its gallery, not the photos of other listings.

A listing page shows its own photos in one gallery near the title, and other listings' photos in
carousels ("similar items", "more from this seller"), where each photo is a link to that other
listing. The gallery is found as the group of <img> (with their srcset, zoom and data-* variants)
that holds the photos the page's structured data names (JSON-LD, microdata, og:image), or, without
those, the group nearest the title; a JSON page state (``window.__data``, ``__NEXT_DATA__``,
``application/json`` scripts) adds the photos of the object whose name is the listing's title.
Each photo is kept once at its largest variant; a photo shown inside a link to another page is
another listing's and is left out. Where the choice rests on weak evidence the result says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lootwatch.crawlers.extract import photos, variants, xpath
from lootwatch.crawlers.extract.text import (
    absolute,
    clean,
    json_after,
    loads_lenient,
    photo_address,
    photo_refusal,
    same_page,
)

_IMAGE_PATH = re.compile(r"\.(jpe?g|png|webp|avif|gif|tiff?|bmp)(\?|$)|/img\.axd|/image/|/images?/|/photos?/", re.I)
_IMAGE_EXT = re.compile(r"\.(jpe?g|png|webp|avif|gif|tiff?|bmp)(\?|#|$)", re.I)
_GALLERY_WORDS = re.compile(
    r"gallery|carousel|slider|slideshow|photo|image|media|swiper|lightbox|zoom|viewer|picture", re.I
)
# blocks holding other listings, or the site's own furniture
_NOT_LISTING = re.compile(
    r"related|similar|recommend|recently|other-?lots|more-?from|you-?may|also-?(like|viewed|bought)|sponsor|"
    r"upsell|cross-?sell|footer|header|navbar|(^|[-_ ])nav([-_ ]|$)|logo|avatar|seller-?(card|info|photo)|"
    r"banner|(^|[-_ ])ads?([-_ ]|$)|advert|promo|breadcrumb|(^|[-_ ])(customer-?)?reviews?([-_ ]|$)|"
    r"profile|social|share|store-?info|shop-?info",
    re.I,
)
_NOT_PHOTO = re.compile(
    r"logo|icon|avatar|sprite|badge|flag|placeholder|spinner|loading|pixel|tracking|blank|spacer|profile|"
    r"favicon|emoji|rating|star|payment|captcha|/ads?/|doubleclick|facebook\.com/tr",
    re.I,
)
_SKIP_TAGS = ("header", "footer", "nav", "aside")
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
    "data-lazy",
    "data-lazy-src",
    "data-src",
    "data-image",
    "data-img",
)
_STATE_MARKERS = (
    "window.__data",
    "window.__INITIAL_STATE__",
    "window.__PRELOADED_STATE__",
    "window.__APOLLO_STATE__",
    "window.__STATE__",
)
# keys of a listing's JSON that hold someone else's pictures or other listings
_NOT_LISTING_KEY = re.compile(
    r"seller|user|owner|shop|store|author|avatar|profile|brand|logo|icon|related|similar|recommend|"
    r"other|more|^ads?$|sponsor|banner|categor|breadcrumb|badge|bidder|buyer|auctioneer|house|expert|flag",
    re.I,
)
_NAME_KEYS = ("title", "name", "headline", "lotTitle", "itemTitle", "productName")


@dataclass
class Photos:
    """Photos of the listing and how sure the choice is."""

    photos: list[str] = field(default_factory=list)
    source: str = ""  # the rule that produced them
    confidence: float = 0.0
    reasons: list[str] = field(default_factory=list)  # why a person should look, where unsure
    left_out: int = 0  # photos of other listings (inside links to other pages) left out
    refused: list[str] = field(default_factory=list)  # the listing's photo URLs that are never fetched


def looks_like_image(url: str) -> bool:
    return bool(url) and bool(_IMAGE_PATH.search(url)) and not url.startswith("data:")


_DESCRIPTOR = re.compile(r"\d+(\.\d+)?[wx]")


def _largest_srcset(srcset: str) -> list[tuple[str, float]]:
    out = []
    for part in srcset.split(","):
        bits = part.strip().split()
        if not bits or _DESCRIPTOR.fullmatch(bits[0]):  # "12x" alone: a descriptor, no URL
            continue
        w = 1.0
        if len(bits) > 1 and bits[1][:-1].replace(".", "", 1).isdigit():
            w = float(bits[1][:-1]) * (1 if bits[1].endswith("w") else 1000)
        out.append((bits[0], w))
    return out


def img_variants(img: Any, base: str) -> list[str]:
    """Every http(s) URL an <img> (or <source>) offers for its photo, the likely largest first."""
    return [u for u in _img_urls(img, base) if not photo_refusal(u)]


def img_unfetchable(img: Any, base: str) -> list[str]:
    """The URLs an <img> offers that are never fetched (javascript:, data:, in any case)."""
    return [u for u in _img_urls(img, base) if photo_refusal(u)]


def _img_urls(img: Any, base: str) -> list[str]:
    out: list[str] = []
    link = img.getparent()
    while link is not None and link.tag != "a" and link.tag not in ("body", "figure", "li"):
        link = link.getparent()
    if link is not None and link.tag == "a":
        href = absolute(base, link.get("href"))
        if href and _IMAGE_EXT.search(href):
            out.append(href)
    for attr in _LARGE_ATTRS:
        v = img.get(attr)
        if v and not v.lstrip().startswith(("{", "[")):
            out.append(photo_address(base, v))
    for attr in ("srcset", "data-srcset"):
        v = img.get(attr)
        if v:
            out.extend(photo_address(base, u) for u, _ in sorted(_largest_srcset(v), key=lambda t: -t[1]))
    out.append(photo_address(base, img.get("src")))
    return [u for u in out if u]


def _classes(node: Any) -> str:
    return f"{node.get('class') or ''} {node.get('id') or ''} {node.get('data-testid') or ''}"


def _link_target(img: Any) -> Any:
    node = img.getparent()
    for _ in range(6):
        if node is None:
            return None
        if node.tag == "a":
            return node
        node = node.getparent()
    return None


@dataclass
class _Candidate:
    url: str
    variants: list[str]
    group: Any
    order: int
    gallery_word: bool


@dataclass
class _Markup:
    """The page's <img>s read as photo candidates."""

    cands: list[_Candidate] = field(default_factory=list)
    foreign: list[list[str]] = field(default_factory=list)  # variants of photos inside links to other listings
    # <img>s offering only URLs that are never fetched (javascript:, data:): (first such URL, its group)
    unfetchable: list[tuple[str, Any]] = field(default_factory=list)


def _dom_candidates(root: Any, base: str) -> _Markup:
    """Photos shown in the page's markup, and (the variants of) those shown inside links to other listings."""
    found = _Markup()
    cands, foreign = found.cands, found.foreign
    body = root.find("body") if root.tag == "html" else root
    if body is None:
        body = root
    for order, img in enumerate(body.iter("img")):
        every = _img_urls(img, base)
        urls = [u for u in every if not photo_refusal(u)]
        if not every:
            continue
        w, h = img.get("width") or "", img.get("height") or ""
        if (w.isdigit() and 0 < int(w) < 40) or (h.isdigit() and 0 < int(h) < 40):
            continue
        shown = (urls or every)[-1]
        if _NOT_PHOTO.search(shown) or _NOT_PHOTO.search(_classes(img) + " " + (img.get("alt") or "")[:40]):
            continue
        a = _link_target(img)
        if a is not None:
            href = absolute(base, a.get("href"))
            if href and not _IMAGE_EXT.search(href) and not same_page(href, base) and not _sub_page(href, base):
                if urls:
                    foreign.append(urls)
                continue
        skip, group, word = False, None, False
        node = img.getparent()
        depth = 0
        while node is not None and node.tag not in ("body", "html"):
            cls = _classes(node)
            if node.tag in _SKIP_TAGS or _NOT_LISTING.search(cls):
                skip = True
                break
            if group is None and depth < 8 and _GALLERY_WORDS.search(cls):
                group, word = node, True
            node = node.getparent()
            depth += 1
        if skip:
            continue
        if group is None:
            parent = img.getparent()
            group = parent.getparent() if parent is not None and parent.getparent() is not None else parent
        if urls:
            cands.append(_Candidate(urls[0], urls, group, order, word))
        else:
            found.unfetchable.append((every[0], group))
    return found


def _sub_page(href: str, base: str) -> bool:
    """A page below the listing's own (``/item/123/photos``): its gallery, not another listing."""
    a, b = urlsplit(href), urlsplit(base)
    return a.netloc == b.netloc and a.path.startswith(b.path.rstrip("/") + "/")


def _state_blobs(root: Any, html: str) -> Iterator[Any]:
    for raw in xpath.strings(root, "//script[@type='application/json' or @id='__NEXT_DATA__']/text()"):
        if len(raw) > 20:
            try:
                yield loads_lenient(raw)
            except (ValueError, RecursionError):  # nested past what the parser follows: not a listing
                continue
    for marker in _STATE_MARKERS:
        if marker in html:
            state = json_after(html, marker)
            if state is not None:
                yield state


def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().lower()


def _named(d: dict) -> str:
    for k in _NAME_KEYS:
        v = d.get(k)
        if isinstance(v, str) and v.strip():
            return v
    return ""


def _find_listing(value: Any, title: str, depth: int = 0) -> dict | None:
    """The object of a page state whose name is the listing's title."""
    if depth > 12:
        return None
    if isinstance(value, dict):
        name = _named(value)
        if name and _norm(name) == title:
            return value
        for v in value.values():
            if isinstance(v, dict | list):
                hit = _find_listing(v, title, depth + 1)
                if hit is not None:
                    return hit
    elif isinstance(value, list):
        for v in value[:500]:
            if isinstance(v, dict | list):
                hit = _find_listing(v, title, depth + 1)
                if hit is not None:
                    return hit
    return None


_LINK_KEYS = ("url", "href", "link", "slug", "path", "permalink")
_PRICE_KEYS = ("price", "currentBid", "current_bid", "estimate", "lowEstimate", "startPrice", "amount")


def _other_listing(d: dict, own_name: str) -> bool:
    """A nested object naming another listing (a related item): its own name, and a link to a page or a
    price; an image object with a caption ({"title": "Front", "url": "...jpg"}) is not one."""
    name = _named(d)
    if not name or _norm(name) == own_name:
        return False
    if any(k in d for k in _PRICE_KEYS):
        return True
    for k in _LINK_KEYS:
        v = d.get(k)
        if isinstance(v, str) and v and not looks_like_image(v):
            return True
    return False


def _image_strings(value: Any, base: str, own_name: str, depth: int = 0) -> Iterator[str]:
    """Image URLs inside one listing's object, not inside a nested object that names another listing."""
    if depth > 8:
        return
    if isinstance(value, str):
        if value.startswith(("http", "//", "/")) and looks_like_image(value) and not _NOT_PHOTO.search(value):
            yield absolute(base, value)
    elif isinstance(value, dict):
        if depth and _other_listing(value, own_name):
            return
        for k, v in value.items():
            if isinstance(k, str) and _NOT_LISTING_KEY.search(k):
                continue
            yield from _image_strings(v, base, own_name, depth + 1)
    elif isinstance(value, list):
        for v in value[:1000]:  # galleries of collector-car sales run to hundreds of photos
            yield from _image_strings(v, base, own_name, depth + 1)


def state_photos(root: Any, html: str, base: str, title: str) -> list[str]:
    """Photos of the object named ``title`` in the page's JSON state, where the page has one."""
    want = _norm(title)
    if len(want) < 4:
        return []
    for blob in _state_blobs(root, html):
        hit = _find_listing(blob, want)
        if hit is not None:
            found = list(_image_strings(hit, base, want))
            if found:
                return found
    return []


_ID_KEYS = ("id", "lotId", "itemId", "productId", "listingId", "lot_id", "item_id", "sku")


def _find_by_id(value: Any, item_id: str, depth: int = 0) -> dict | None:
    """The object of a page state that carries the listing's id (from its URL) and a name."""
    if depth > 12:
        return None
    if isinstance(value, dict):
        if _named(value) and any(str(value.get(k, "")) == item_id for k in _ID_KEYS):
            return value
        children = list(value.values())
    elif isinstance(value, list):
        children = value[:500]
    else:
        return None
    for v in children:
        if isinstance(v, dict | list):
            hit = _find_by_id(v, item_id, depth + 1)
            if hit is not None:
                return hit
    return None


def state_listing(root: Any, html: str, base: str, item_id: str) -> tuple[str, list[str]]:
    """(title, photos) of the listing in a page's JSON state, found by the id in its URL, for pages whose
    markup names nothing (the page is rendered from that state by JavaScript)."""
    if not item_id or not any(c.isdigit() for c in item_id):
        return "", []
    for blob in _state_blobs(root, html):
        hit = _find_by_id(blob, item_id)
        if hit is not None:
            name = clean(_named(hit))
            return name, list(_image_strings(hit, base, _norm(name)))
    return "", []


_DATA_NAME = re.compile(r"image|gallery|photo|media|slide|picture")
_DATA_GALLERY = (
    "//*[@*[starts-with(name(), 'data-') and (contains(name(), 'image') or contains(name(), 'gallery') "
    "or contains(name(), 'photo') or contains(name(), 'media') or contains(name(), 'slide') "
    "or contains(name(), 'picture'))]]"
)


def data_attr_photos(root: Any, base: str) -> list[str]:
    """Galleries kept in data-* attributes as JSON or lists of URLs (data-images='[...]',
    data-gallery-items='[{"large": {"url": ...}}]')."""
    out: list[str] = []
    for node in xpath.run(root, _DATA_GALLERY):
        if node.tag == "img" or _in_other_block(node):
            continue  # an <img>'s own data-* URLs are its variants (img_variants)
        for attr, raw in node.attrib.items():
            if not attr.startswith("data-") or not _DATA_NAME.search(attr):
                continue
            raw = raw.strip()
            if raw.startswith(("[", "{")):
                try:
                    value: Any = json.loads(raw)
                except (ValueError, RecursionError):
                    continue
            elif "," in raw and looks_like_image(raw.split(",")[0].strip()):
                value = [p.strip() for p in raw.split(",")]
            else:
                continue  # one URL (a lazy-loaded image, a zoom target): the markup gallery reads those
            out.extend(_image_strings(value, base, ""))
    return out


def _in_other_block(node: Any) -> bool:
    while node is not None and node.tag not in ("body", "html"):
        if node.tag in _SKIP_TAGS or _NOT_LISTING.search(_classes(node)):
            return True
        node = node.getparent()
    return False


def listing_photos(
    root: Any,
    html: str,
    base: str,
    *,
    title: str,
    structured: list[str],
    og_images: list[str],
) -> Photos:
    """The listing's own photos: structured data, JSON state and the markup gallery, checked against each other.

    Photo URLs the listing offers that are never fetched (javascript:, data:) are returned apart, in
    ``refused``: from structured data, og:image, and <img>s of the chosen gallery.
    """
    structured, refused = photos.split_fetchable(structured)
    og_images, og_refused = photos.split_fetchable(og_images)
    markup = _dom_candidates(root, base)
    cands, foreign_groups = markup.cands, markup.foreign
    foreign = {variants.photo_key(u) for urls in foreign_groups for u in urls}
    anchors = {variants.photo_key(u) for u in structured + og_images}
    anchor_stems = {variants.stem_key(u) for u in structured + og_images} - {""}
    state = state_photos(root, html, base, title) if title else []
    state_keys = {variants.photo_key(u) for u in state}

    def matches(c: _Candidate, keys: set[str], stems: set[str]) -> bool:
        return any(variants.photo_key(v) in keys or (variants.stem_key(v) in stems) for v in c.variants)

    groups: dict[int, list[_Candidate]] = {}
    for c in cands:
        groups.setdefault(id(c.group), []).append(c)
    h1_order = _h1_order(root)
    best: list[_Candidate] = []
    best_score = -1e9
    anchored = False
    for members in groups.values():
        hits = sum(1 for c in members if matches(c, anchors | state_keys, anchor_stems))
        score = float(hits * 100 + (20 if members[0].gallery_word else 0) + min(len(members), 20))
        if h1_order is not None:
            score -= min(abs(members[0].order - h1_order), 50) * 0.5
        if score > best_score:
            best, best_score, anchored = members, score, hits > 0
    reasons: list[str] = []
    out: list[list[str]] = [[u] for u in structured + state]
    source = "+".join(s for s, v in (("structured data", structured), ("page state JSON", state)) if v)
    gallery: list[list[str]] = []
    if best and (anchored or not (structured or state)):
        gallery = [c.variants for c in best]
        # the same photos shown again elsewhere (a thumbnail strip beside the main view) add their variants
        keys = {variants.photo_key(u) for g in gallery for u in g}
        stems = {variants.stem_key(u) for g in gallery for u in g} - {""}
        gallery += [c.variants for c in cands if c not in best and matches(c, keys, stems)]
        out += gallery
        source = f"{source}+markup gallery" if source else "markup gallery"
    out += [[u] for u in data_attr_photos(root, base)]
    own = anchors | state_keys
    chosen = {id(c.group) for c in best} if gallery else set()
    refused += [u for u, group in markup.unfetchable if id(group) in chosen]

    def is_foreign(urls: list[str]) -> bool:
        keys = {variants.photo_key(u) for u in urls}
        return bool(keys & foreign) and not keys & own

    kept = [g for g in out if not is_foreign(g)]
    own |= {variants.photo_key(u) for g in kept for u in g}
    left_out = len(variants.merge_photos([g for g in foreign_groups if not {variants.photo_key(u) for u in g} & own]))
    merged = variants.merge_photos(kept)
    if not merged and (og_images or og_refused):
        source = "og:image"
        reasons.append("only the page's sharing image (og:image) was found; the gallery may need JavaScript")
        return Photos(variants.largest_of_each(og_images), source, 0.4, reasons, left_out, refused + og_refused)
    confidence = 0.9
    if gallery and not anchored:
        confidence = 0.5
        reasons.append("gallery chosen by its place near the title, not confirmed by structured data")
    elif structured and not gallery and not state and len(cands) > len(merged) + 1:
        confidence = 0.7
        reasons.append("photos from structured data only; the markup shows other images not matched to them")
    if not merged:
        confidence = 0.0
    return Photos(merged, source.strip("+"), confidence, reasons, left_out, refused)


def _h1_order(root: Any) -> int | None:
    """Position of the title heading among the page's images (document order)."""
    n = 0
    for node in root.iter("img", "h1"):
        if node.tag == "h1":
            return n
        n += 1
    return None


def title_text(root: Any) -> str:
    return clean(" ".join(xpath.strings(root, "(//h1)[1]//text()")))
