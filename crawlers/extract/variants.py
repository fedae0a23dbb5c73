"""Size variants of one photo: the URL patterns image hosts and CMSs use to serve one photo at several sizes.

A listing page shows each photo several times (thumbnail strip, main view, zoom), each from a URL that
differs only in a size token: ``s-l500`` / ``s-l1600`` path names, ``._AC_SX300_.`` infixes,
``-300x300`` / ``il_794xN`` dimension tokens, ``/thumb/`` or ``w_300,c_fill`` path segments, and
``w=`` / ``width=`` / ``sz=`` query parameters. :func:`photo_key` removes those tokens, so the
variants of one photo share a key; :func:`size_rank` orders the variants, so the largest is kept.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# the rank of a photo URL that names no size: the image itself, which the sized variants are made from
ORIGINAL = 100_000
_HUGE = 1_000_000  # "full", "orig", "max": the largest the host offers

# whole path segments that name a size: /thumb/, /w_300,h_200,c_fill/, /300x300/, /orig/
_SIZE_WORDS = {
    "thumb": 100,
    "thumbs": 100,
    "thumbnail": 100,
    "thumbnails": 100,
    "tn": 100,
    "small": 200,
    "sm": 200,
    "mini": 100,
    "preview": 300,
    "medium": 500,
    "med": 500,
    "md": 500,
    "normal": 600,
    "large": 1000,
    "lg": 1000,
    "big": 1000,
    "xl": 2000,
    "xxl": 3000,
    "zoom": 2000,
    "hires": 3000,
    "full": _HUGE,
    "fullsize": _HUGE,
    "orig": _HUGE,
    "original": _HUGE,
    "originals": _HUGE,
    "max": _HUGE,
}
_TRANSFORM_SEGMENT = re.compile(r"^(?:[a-z]{1,3}_[a-z0-9.:]+,?)+$")  # cloudinary-style w_300,h_200,c_fill
_TRANSFORM_WIDTH = re.compile(r"(?:^|,)(?:w|h)_(\d+)")
_DIMENSIONS = re.compile(r"(?<![a-z0-9])(\d{2,4}|full)x(\d{2,4}|full|n)(?![a-z0-9])", re.I)
# tokens inside the file name
_FILE_TOKENS = [
    (re.compile(r"(?<=/)s-l(\d{2,4})(?=\.\w+$)"), "s-l"),  # eBay: s-l64 ... s-l1600
    (re.compile(r"\$_(\d{1,3})(?=\.\w+$)"), "$_"),  # older eBay: $_1 ... $_57
    (re.compile(r"\._[A-Z]{2}[A-Z0-9_,]*_(?=\.\w+$)"), ""),  # ._AC_SX300_. , ._SL1500_.
    (re.compile(r"(?<=/)thumb\d*_", re.I), ""),  # thumb2_<uuid>.jpg
    (re.compile(r"[-_](?:thumb|thumbnail|small|medium|large|xl|zoom|big)(?=\.\w+$)", re.I), ""),
    (re.compile(r"_(?:mid|med|lg|sm|tn)(?=\.\w+$)", re.I), ""),  # H0054-L341207066_mid.jpg
]
# query parameters that choose a size or an encoding, never which photo
_SIZE_PARAMS = {
    "w",
    "h",
    "width",
    "height",
    "wid",
    "hei",
    "size",
    "sz",
    "maxwidth",
    "maxheight",
    "max_width",
    "max_height",
    "imwidth",
    "resize",
    "fit",
    "crop",
    "quality",
    "q",
    "auto",
    "format",
    "fm",
    "dpr",
    "rs",
    "scale",
    "thumbnail",
    "thumb",
    "mode",
    "rect",
    "bg",
    "sharp",
    "strip",
    "optimize",
    "compression",
    "im",
    "impolicy",
    "imgeng",
    "ver",
    "version",
    "v",
    "t",
    "c",
    "wt",
    "rwl",
    "lp",
    "p",
    "ext",
    "checksum",  # signs the whole query, so it differs between sizes of one photo
}
# parameters that name the photo on hosts serving every photo from one script (img.axd?id=...)
_IDENTITY_PARAMS = {"id", "photo", "image", "img", "file", "src", "url", "key", "name", "path"}


@lru_cache(maxsize=8192)
def photo_key(url: str) -> str:
    """Two URLs with one key are sizes of one photo."""
    parts = urlsplit(url)
    segments = parts.path.split("/")
    kept = []
    for i, seg in enumerate(segments):
        low = seg.lower()
        last = i == len(segments) - 1
        if not last and (low in _SIZE_WORDS or _DIMENSIONS.fullmatch(low) or _is_transform(low)):
            continue
        kept.append(seg)
    path = "/".join(kept)
    for rx, repl in _FILE_TOKENS:
        path = rx.sub(repl, path)
    path = _DIMENSIONS.sub("", path)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_size_param(k, v)]
    host = parts.netloc.lower()
    path = re.sub(r"[-_]+(?=\.\w+$)", "", path)  # "vase-300x300.jpg" -> "vase.jpg"
    path = re.sub(r"([-_.])[-_.]+", r"\1", path)  # "il_794xN.123" and "il_fullxfull.123" -> "il_123"
    return urlunsplit(("", host, path, urlencode(sorted(query)), ""))


def _is_transform(segment: str) -> bool:
    return bool(_TRANSFORM_SEGMENT.fullmatch(segment)) and bool(_TRANSFORM_WIDTH.search(segment))


def _is_size_param(key: str, value: str) -> bool:
    k = key.lower()
    if k in _IDENTITY_PARAMS:
        return False
    return k in _SIZE_PARAMS


@lru_cache(maxsize=8192)
def size_rank(url: str) -> int:
    """How large a variant the URL names: pixels where it says, ORIGINAL where it names no size."""
    parts = urlsplit(url)
    ranks: list[int] = []
    for seg in parts.path.split("/")[:-1]:
        low = seg.lower()
        if low in _SIZE_WORDS:
            ranks.append(_SIZE_WORDS[low])
        elif _is_transform(low):
            ranks.extend(int(n) for n in _TRANSFORM_WIDTH.findall(low))
    name = parts.path.rsplit("/", 1)[-1]
    m = re.search(r"s-l(\d{2,4})\.\w+$", name)
    if m:
        ranks.append(int(m.group(1)))
    m = re.search(r"\$_(\d{1,3})\.\w+$", name)
    if m:  # the old eBay scheme numbers sizes, 57 the largest
        ranks.append(1600 if m.group(1) in ("57", "10", "12") else int(m.group(1)) * 10)
    m = re.search(r"\._[A-Z]{2}[A-Z0-9_,]*_\.\w+$", name)
    if m:
        numbers = [int(n) for n in re.findall(r"\d+", m.group(0))]
        ranks.append(max(numbers) if numbers else 500)
    if re.search(r"(?:^|/)thumb\d*_", "/" + name, re.I):
        ranks.append(100)
    m2 = re.search(r"[-_](thumb|thumbnail|small|medium|large|xl|zoom|big|mid|med|lg|sm|tn)\.\w+$", name, re.I)
    if m2:
        ranks.append(_SIZE_WORDS.get(m2.group(1).lower(), 400))
    for w, h in _DIMENSIONS.findall(parts.path):
        ranks.append(max(_HUGE if x.lower() == "full" else int(x) if x.isdigit() else 0 for x in (w, h)))
    for k, v in parse_qsl(parts.query):
        k = k.lower()
        if k in ("w", "width", "wid", "maxwidth", "max_width", "imwidth", "h", "height", "hei", "size"):
            if v.isdigit():
                ranks.append(int(v) or _HUGE)  # w=0 on some hosts means "no resizing"
        elif k in ("fit", "resize") and re.fullmatch(r"\d+\s*,\s*\d+", v.strip()):  # fit=2048,1365
            ranks.append(max(int(n) for n in re.findall(r"\d+", v)))
        elif k == "sz":
            ranks.append(_HUGE if v.lower() == "max" else int(v) if v.isdigit() else 500)
    return max(ranks) if ranks else ORIGINAL


def declared_size(url: str) -> str:
    """The size a URL names, for people: '1600px', 'original', 'thumbnail'."""
    rank = size_rank(url)
    if rank >= _HUGE:
        return "largest offered"
    if rank == ORIGINAL:
        return "no size in URL (original)"
    return f"{rank}px" if rank > 100 else "thumbnail"


@lru_cache(maxsize=8192)
def stem_key(url: str) -> str:
    """The site and the file name without size tokens, where that name is distinctive enough to name one
    photo alone: a host serves one photo from differently built paths (/thumb/item/webp/m123_1.jpg and
    /item/detail/orig/photos/m123_1.jpg); '' where the name is generic (s-l1600.jpg, image.jpg)."""
    key = photo_key(url).removeprefix("//")
    host, _, rest = key.partition("/")
    name = rest.split("?", 1)[0].rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0]
    if len(stem) < 8 or sum(c.isdigit() for c in stem) < 3:
        return ""
    site = ".".join(host.rsplit(".", 2)[-2:])
    return f"{site}/{stem}"


def largest_of_each(urls: list[str]) -> list[str]:
    """One URL per photo, in first-seen order, each the largest variant seen."""
    return merge_photos([[u] for u in urls])


def merge_photos(groups: list[list[str]]) -> list[str]:
    """One URL per photo from groups of URLs known to show one photo (an <img>'s src, srcset and zoom
    URLs, the likeliest largest first), joined with other groups where their URLs are size variants of
    each other; each photo at its largest variant, ties going to the earlier-listed URL."""
    best: list[tuple[int, int, str]] = []  # (rank, -position in its group, url)
    group_of: dict[str, int] = {}
    for urls in groups:
        urls = [u for u in urls if u]
        if not urls:
            continue
        keys = [k for u in urls for k in (photo_key(u), stem_key(u)) if k]
        found = next((group_of[k] for k in keys if k in group_of), None)
        if found is None:
            found = len(best)
            best.append((-1, 0, ""))
        for pos, u in enumerate(urls):
            cand = (size_rank(u), -pos, u)
            if cand[:2] > best[found][:2]:
                best[found] = cand
        for k in keys:
            group_of.setdefault(k, found)
    return [u for _, _, u in best]
