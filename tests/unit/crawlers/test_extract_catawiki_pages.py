"""The Catawiki adapter on captured Catawiki page data (see tests/fixtures/crawlers/pages/PROVENANCE.md)."""

from __future__ import annotations

import json
from pathlib import Path

from lootwatch.crawlers.extract import extract_page

PAGES = Path(__file__).resolve().parents[2] / "fixtures" / "crawlers" / "pages" / "catawiki"


def _read(name: str) -> tuple[str, dict]:
    page = PAGES / name
    return page.read_text(encoding="utf-8"), json.loads((PAGES / f"{name}.expected.json").read_text(encoding="utf-8"))


def test_open_lot() -> None:
    html, key = _read("lot_open.html")
    got = extract_page(html, key["url"])
    assert (got.adapter, got.page_type, got.item_id, got.title) == ("catawiki", "item", "105781311", key["title"])
    assert (got.amount, got.currency, got.price_text, got.status) == (850.0, "EUR", "EUR 850", "open")
    assert got.seller == "user-4e105c9" and got.sale_date.startswith("2026-08-")
    assert got.description.startswith("Omega - Speedmaster - Senza prezzo di riserva")
    assert got.photos == key["images"] and len(got.photos) == 16
    assert not set(got.photos) & set(key["other_listing_photos"]) and not got.needs_review


def test_closed_lot_is_sold() -> None:
    html, key = _read("lot_closed.html")
    got = extract_page(html, key["url"])
    assert (got.page_type, got.status, got.amount, got.currency) == ("item", "sold", 99.0, "EUR")
    assert got.photos == key["images"] and len(got.photos) == 33


def test_search_page_results_and_next_page() -> None:
    html, key = _read("search_watches.html")
    got = extract_page(html, key["url"])
    assert got.page_type == "search"
    assert [(r.url, r.item_id, r.title) for r in got.results] == [
        (r["url"], r["listing_id"], " ".join(r["title"].split())) for r in key["results"]
    ]
    assert got.results[0].image.endswith("/3e96dd41-b3e3-4a50-b7d1-192c1da84d8c.jpg")
    assert got.next_page == "https://www.catawiki.com/en/s?q=omega+speedmaster&page=2"
