"""A listing's item id comes from the URL fetched: a page cannot name another listing's id and so
overwrite that listing's record (listings are stored under site + item id)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lootwatch.crawlers.extract import extract_page
from lootwatch.crawlers.extract.identity import carried_by_url, item_id_from_url, own_item_id
from lootwatch.crawlers.extract.result import PageResult
from lootwatch.crawlers.extract.text import decode_page

PAGES = Path(__file__).resolve().parents[2] / "fixtures" / "crawlers" / "pages"


def _lot_page(canonical: str, sku: str = "", og_url: str = "") -> str:
    product = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": "Bronze head of a youth",
        "image": ["https://cdn.auction.example/img/123/a.jpg", "https://cdn.auction.example/img/123/b.jpg"],
        "offers": {"@type": "Offer", "price": "900", "priceCurrency": "EUR"},
    }
    if sku:
        product["sku"] = sku
    return (
        f'<html><head><link rel="canonical" href="{canonical}">'
        + (f'<meta property="og:url" content="{og_url}">' if og_url else "")
        + f'<script type="application/ld+json">{json.dumps(product)}</script></head>'
        "<body><h1>Bronze head of a youth</h1></body></html>"
    )


@pytest.mark.parametrize(
    ("canonical", "sku"),
    [
        ("https://auction.example/lot/9", ""),  # the canonical names listing 9
        ("/lot/9-bronze-head", ""),  # relative, with a slug
        ("https://auction.example/lot/123-bronze-head", "9"),  # a stated sku names listing 9
        ("https://other-site.example/item/9", "9"),  # both, on another host
    ],
)
def test_a_claimed_canonical_or_sku_never_sets_the_item_id(canonical: str, sku: str) -> None:
    fetched = "https://auction.example/lot/123-bronze-head"
    page = extract_page(_lot_page(canonical, sku, og_url="https://auction.example/lot/9"), fetched)
    assert page.page_type == "item" and page.title == "Bronze head of a youth"
    assert page.item_id == "123"
    assert page.url == fetched
    if sku == "9":
        assert page.extra["claimed_item_id"] == "9"
        assert page.extra["claimed_item_id_from"] == "JSON-LD sku/productID"


def test_a_stated_id_the_fetched_url_carries_is_kept() -> None:
    page = extract_page(_lot_page("https://auction.example/lot/9", sku="A-77"), "https://auction.example/lot/A-77")
    assert page.item_id == "A-77"
    assert "claimed_item_id" not in page.extra


def test_a_site_selector_item_id_is_checked_against_the_url_too() -> None:
    html = _lot_page("https://auction.example/lot/9").replace("<h1>", '<span class="lot-no">9</span><h1>')
    page = extract_page(html, "https://auction.example/lot/123", selectors={"item_id": "span.lot-no::text"})
    assert page.item_id == "123"
    assert page.extra["claimed_item_id_from"] == "site selector item_id"


def test_ebay_reads_the_id_from_the_fetched_url_not_the_canonical() -> None:
    html = _lot_page("https://www.ebay.de/itm/111111111111")
    page = extract_page(html, "https://www.ebay.de/itm/Bronze-head/222222222222?hash=x")
    assert page.adapter == "ebay"
    assert page.item_id == "222222222222"
    assert page.canonical_url == "https://www.ebay.de/itm/222222222222"


def test_a_real_catawiki_lot_replayed_under_another_lots_url_keeps_that_urls_id() -> None:
    """The captured page's state says lotId 105781311; fetched at another lot's URL, it is stored there
    (where the site served it), never written over listing 105781311."""
    raw = decode_page((PAGES / "catawiki" / "lot_open.html").read_bytes())
    own = extract_page(raw, "https://www.catawiki.com/en/l/105781311")
    assert own.item_id == "105781311" and "claimed_item_id" not in own.extra
    replayed = extract_page(raw, "https://www.catawiki.com/en/l/99999999")
    assert replayed.item_id == "99999999"
    assert replayed.extra["claimed_item_id"] == "105781311"


@pytest.mark.parametrize(
    ("url", "item_id"),
    [
        ("https://a.example/item/z659638164", "z659638164"),
        ("https://a.example/lot/12345_bronze-figure", "12345"),
        ("https://a.example/lots/bronze-figure-18482281.html", "18482281"),
        ("https://a.example/item.php?id=4711&lang=de", "4711"),  # no digit in the path: the id-named query value
        ("https://a.example/catalogue/item.aspx?lang=de&LotID=88", "88"),
        ("https://a.example/the-bronze-head", "the-bronze-head"),
    ],
)
def test_item_id_from_url(url: str, item_id: str) -> None:
    assert item_id_from_url(url) == item_id


def test_a_claim_must_stand_whole_in_the_url() -> None:
    assert carried_by_url("123", "https://a.example/lot/123-title")
    assert carried_by_url("123", "https://a.example/lot?id=123")
    assert not carried_by_url("9", "https://a.example/lot/19")
    assert not carried_by_url("9", "https://a.example/lot/123?ref=19")
    out = PageResult(url="https://a.example/lot/19")
    assert own_item_id(out.url, "9", out=out, claimed_by="test") == "19"
    assert out.extra == {"claimed_item_id": "9", "claimed_item_id_from": "test"}
