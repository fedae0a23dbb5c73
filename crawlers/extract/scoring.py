"""Extraction scored against answer keys written from saved pages (``PAGE.html`` + ``PAGE.html.expected.json``).

A page is right when its type matches; on an item page the title matches and every one of the
listing's photos is found (any size variant of it) with at most one other photo; on a search page
every result (compared without query string) and the next-page link are found. Photos of other
listings (an answer key's ``other_listing_photos``, where it names them) are counted on every page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lootwatch.crawlers.extract import extract_page
from lootwatch.crawlers.extract.result import PageResult
from lootwatch.crawlers.extract.text import decode_page, same_page
from lootwatch.crawlers.extract.variants import photo_key, stem_key

TYPE_NAMES = {"blocked_challenge": "blocked", "item_not_found": "not_found"}


@dataclass
class Score:
    page: str
    right: bool
    problems: list[str] = field(default_factory=list)
    other_listing_photos: int = 0
    extra_photos: int = 0


def _same_photo(a: str, b: str) -> bool:
    if photo_key(a) == photo_key(b):
        return True
    sa = stem_key(a)
    return bool(sa) and sa == stem_key(b)


def score_result(name: str, got: PageResult, expected: dict[str, Any]) -> Score:
    problems: list[str] = []
    want_type = TYPE_NAMES.get(expected["page_type"], expected["page_type"])
    if got.page_type != want_type:
        problems.append(f"page type {got.page_type}, expected {want_type}")
    others = 0
    extra = 0
    if want_type == "item":
        if expected.get("title") and " ".join(got.title.split()) != " ".join(expected["title"].split()):
            problems.append(f"title {got.title!r}, expected {expected['title']!r}")
        want = expected.get("images", [])
        missing = [w for w in want if not any(_same_photo(w, g) for g in got.photos)]
        if missing:
            problems.append(f"{len(missing)} of {len(want)} listing photos missing")
        extra = sum(1 for g in got.photos if not any(_same_photo(w, g) for w in want))
        if extra > 1:
            problems.append(f"{extra} photos that are not the listing's")
        foreign = expected.get("other_listing_photos", [])
        others = sum(1 for g in got.photos if any(_same_photo(f, g) for f in foreign))
        if others:
            problems.append(f"{others} photos of other listings")
    elif want_type == "search":
        want_urls = [r["url"] for r in expected.get("results", [])]
        missing_urls = [u for u in want_urls if not any(same_page(u, r.url) for r in got.results)]
        if missing_urls:
            problems.append(f"{len(missing_urls)} of {len(want_urls)} results missing")
        if "n_results" in expected and len(got.results) != expected["n_results"]:
            problems.append(f"{len(got.results)} results, expected {expected['n_results']}")
        if expected.get("next_page") and got.next_page != expected["next_page"]:
            problems.append(f"next page {got.next_page!r}, expected {expected['next_page']!r}")
    return Score(name, not problems, problems, others, extra)


def expected_url(expected: dict[str, Any]) -> str:
    return expected.get("url") or expected.get("canonical") or "https://unknown.example/"


def score_page(page: Path) -> Score:
    """One saved page against the answer key beside it."""
    expected = json.loads(page.with_name(page.name + ".expected.json").read_text(encoding="utf-8"))
    got = extract_page(decode_page(page.read_bytes()), expected_url(expected))  # as `lootwatch extract` reads it
    return score_result(f"{page.parent.name}/{page.name}", got, expected)


def answer_keyed_pages(*folders: Path) -> list[Path]:
    pages: list[Path] = []
    for folder in folders:
        if folder.is_dir():
            pages += sorted(p for p in folder.glob("**/*.html") if p.with_name(p.name + ".expected.json").exists())
    return pages
