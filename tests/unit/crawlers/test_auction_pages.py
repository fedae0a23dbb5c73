"""Every saved real auction page against its answer key (the keys the answer key gives)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lootwatch.crawlers.extract import extract_page

PAGES = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "auction-pages"
CASES = sorted(PAGES.glob("**/*.html")) if PAGES.exists() else []
TYPE_NAMES = {"blocked_challenge": "blocked", "item_not_found": "not_found"}


def _url(expected: dict) -> str:
    return expected.get("url") or expected.get("canonical") or "https://unknown.example/"


@pytest.mark.skipif(not CASES, reason="../shared/data/auction-pages not present")
@pytest.mark.parametrize("page", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_page_matches_answer_key(page: Path) -> None:
    expected = json.loads(page.with_name(page.name + ".expected.json").read_text(encoding="utf-8"))
    got = extract_page(page.read_text(encoding="utf-8", errors="replace"), _url(expected))

    assert got.page_type == TYPE_NAMES.get(expected["page_type"], expected["page_type"])
    if expected.get("title"):
        assert got.title == expected["title"]
    if expected.get("item_id"):
        assert got.item_id == expected["item_id"]
    if expected.get("price_text"):
        assert got.price_text == expected["price_text"]
    if "price" in expected:
        assert got.amount == float(expected["price"])
        assert got.currency == expected["currency"]
    if "seller" in expected:
        assert got.seller == expected["seller"]
    if "images" in expected:
        assert got.photos == expected["images"]
    if expected.get("description_start"):
        norm = " ".join(expected["description_start"].split())
        assert " ".join(got.description.split()).startswith(norm)
    if "next_page" in expected:
        assert got.next_page == expected["next_page"]
    if "n_results" in expected:
        assert len(got.results) == expected["n_results"]
    for want, have in zip(expected.get("results", []), got.results, strict=False):
        assert have.url == want["url"]
        assert have.item_id == (want.get("listing_id") or want.get("auction_id"))
        assert have.title == want["title"]
        assert have.price_text == want["price_text"]
    if got.page_type in ("blocked", "not_found"):
        assert got.reason and not got.photos and not got.results
