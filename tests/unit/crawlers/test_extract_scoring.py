"""Extraction scored on every answer-keyed real page: N right / total, and no photo of another listing.

Pages: the shared benchmark pages (../shared/data/auction-pages) and the captured pages under
tests/fixtures/crawlers/pages, each with an answer key written from the page itself. The generic
rules are also scored alone on the real search pages with their JSON-LD ItemList and adapter taken
away: what a site nobody wrote an adapter for gets.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from lootwatch.crawlers.extract import extract_page
from lootwatch.crawlers.extract.scoring import Score, answer_keyed_pages, expected_url, score_page, score_result

ROOT = Path(__file__).resolve().parents[3]
SHARED = ROOT.parent / "shared" / "data" / "auction-pages"
FIXTURES = ROOT / "tests" / "fixtures" / "crawlers" / "pages"
PAGES = answer_keyed_pages(SHARED, FIXTURES)
# pages read again by the generic rules alone, with no adapter and no JSON-LD: the shared search pages (their
# results are in their markup too), the captured Catawiki lots (their JSON page state, found by the URL's id) and
# the eBay.de item and shop pages (microdata, a filmstrip gallery, listing cards whose links are on www.ebay.de)
GENERIC_ONLY = (
    [
        p
        for p in answer_keyed_pages(SHARED)
        if json.loads(p.with_name(p.name + ".expected.json").read_text())["page_type"] == "search"
    ]
    + sorted((FIXTURES / "catawiki").glob("lot_*.html"))
    + sorted((FIXTURES / "ebay_de").glob("*.html"))
)
_JSONLD = re.compile(r'<script type="application/ld\+json">.*?</script>', re.S)


def _generic_only(page: Path) -> Score:
    expected = json.loads(page.with_name(page.name + ".expected.json").read_text(encoding="utf-8"))
    html = _JSONLD.sub("", page.read_text(encoding="utf-8", errors="replace"))
    got = extract_page(html, expected_url(expected), adapter="generic")
    return score_result(f"generic-only {page.parent.name}/{page.name}", got, expected)


@pytest.mark.skipif(not PAGES, reason="no answer-keyed pages present")
@pytest.mark.parametrize("page", PAGES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_page_is_right(page: Path) -> None:
    score = score_page(page)
    assert score.right, score.problems
    assert score.other_listing_photos == 0


@pytest.mark.skipif(not GENERIC_ONLY, reason="no answer-keyed pages present")
@pytest.mark.parametrize("page", GENERIC_ONLY, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_page_is_right_with_generic_rules_alone(page: Path) -> None:
    score = _generic_only(page)
    assert score.right, score.problems


@pytest.mark.skipif(not PAGES, reason="no answer-keyed pages present")
def test_score_over_all_pages(capsys: pytest.CaptureFixture[str]) -> None:
    scores = [score_page(p) for p in PAGES] + [_generic_only(p) for p in GENERIC_ONLY]
    right = sum(s.right for s in scores)
    with capsys.disabled():
        print(
            f"\nextraction: {right} right / {len(scores)} answer-keyed pages; "
            f"{sum(s.other_listing_photos for s in scores)} photos of other listings"
        )
        for s in scores:
            if not s.right:
                print(f"  wrong: {s.page}: {'; '.join(s.problems)}")
    assert right == len(scores)
    assert sum(s.other_listing_photos for s in scores) == 0


@pytest.mark.skipif(not (SHARED / "mercari").exists(), reason="../shared/data/auction-pages not present")
def test_page_saved_with_raw_http_headers_still_parses() -> None:
    page = SHARED / "mercari" / "item_m38793557194_rendered_dom.html"
    html = page.read_text(encoding="utf-8")
    headers = "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nServer: nginx\r\nVary: Accept\r\n\r\n"
    plain = extract_page(html, "https://jp.mercari.com/item/m38793557194")
    got = extract_page(headers + html, "https://jp.mercari.com/item/m38793557194")
    assert got.page_type == "item" and got.title == plain.title and got.photos == plain.photos
    assert got.extra["http_status_line"] == "HTTP/1.1 200 OK"
