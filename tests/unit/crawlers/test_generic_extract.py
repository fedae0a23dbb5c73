"""The generic adapter on small pages: JSON-LD, OpenGraph, microdata, selectors, page classes."""

from __future__ import annotations

from lootwatch.crawlers.extract import extract_page
from lootwatch.crawlers.extract.detect import _CHALLENGE_MARKUP, MARKUP_HINTS
from lootwatch.crawlers.extract.photos import upgrade
from lootwatch.crawlers.extract.selectors import select_text, select_urls
from lootwatch.crawlers.extract.text import parse_price
from parsel import Selector

JSONLD_ITEM = """<html><head><script type="application/ld+json">
{"@context":"https://schema.org","@graph":[{"@type":"VisualArtwork","name":"Votive stele","sku":"L-42",
 "description":"Limestone
     stele.","image":[{"@type":"ImageObject","contentUrl":"/photos/stele-1.jpg"},"/photos/stele-2.jpg"],
 "offers":{"@type":"Offer","price":"4500.00","priceCurrency":"EUR","availability":"https://schema.org/SoldOut",
 "seller":{"@type":"Organization","name":"Maison X"},"priceValidUntil":"2026-05-01"}}]}
</script></head><body><h1>Votive stele</h1><span class="price">€ 4.500,00</span>
<div class="related-lots"><img src="/photos/other.jpg"></div></body></html>"""


def test_jsonld_visual_artwork_item() -> None:
    r = extract_page(JSONLD_ITEM, "https://auction.example/lot/42")
    assert r.page_type == "item"
    assert (r.title, r.item_id, r.seller, r.status) == ("Votive stele", "42", "Maison X", "sold")
    assert r.extra["claimed_item_id"] == "L-42"  # the sku the URL does not carry: kept apart, never the id
    assert extract_page(JSONLD_ITEM, "https://auction.example/lot/L-42").item_id == "L-42"
    assert r.amount == 4500.0 and r.currency == "EUR" and r.price_text == "€ 4.500,00"
    assert r.photos == [
        "https://auction.example/photos/stele-1.jpg",
        "https://auction.example/photos/stele-2.jpg",
    ]
    assert r.sale_date == "2026-05-01"


def test_opengraph_product_fallback() -> None:
    html = """<html><head><meta property="og:type" content="product"><meta property="og:title"
        content="Amphora">
    <meta property="og:image" content="https://cdn.example/a.jpg"><meta
        property="product:price:amount" content="120">
    <meta property="product:price:currency" content="GBP"></head><body></body></html>"""
    r = extract_page(html, "https://shop.example/items/a-99")
    assert r.page_type == "item" and r.title == "Amphora" and r.item_id == "a-99"
    assert r.photos == ["https://cdn.example/a.jpg"] and r.amount == 120 and r.currency == "GBP"


def test_microdata_product() -> None:
    html = """<html><body><div itemscope itemtype="https://schema.org/Product">
    <h1 itemprop="name">Bronze mirror</h1><img itemprop="image" src="/m/1.jpg">
    <div itemprop="offers" itemscope itemtype="https://schema.org/Offer"><span itemprop="price"
        content="75">$75</span>
    <meta itemprop="priceCurrency" content="USD"></div><span itemprop="sku">BM-1</span></div></body></html>"""
    r = extract_page(html, "https://m.example/p/BM-1")
    assert (r.page_type, r.title, r.item_id, r.amount, r.currency) == (
        "item",
        "Bronze mirror",
        "BM-1",
        75.0,
        "USD",
    )
    assert r.photos == ["https://m.example/m/1.jpg"]


def test_itemlist_search_with_next_page() -> None:
    html = """<html><head><script type="application/ld+json">{"@type":"ItemList","itemListElement":[
    {"@type":"ListItem","position":1,"url":"/lot/1"},{"@type":"ListItem","position":2,"item":{"url":"/lot/2","name":"Two"}}]}
    </script></head><body><div><a href="/lot/1">Lot one</a><span class="lot-price">$10</span></div>
    <div><a href="/lot/2"><img src="/t/2.jpg" alt="Two"></a></div><a rel="next"
        href="?page=2">next</a></body></html>"""
    r = extract_page(html, "https://s.example/search?q=x")
    assert r.page_type == "search"
    assert [(x.url, x.item_id, x.title) for x in r.results] == [
        ("https://s.example/lot/1", "1", "Lot one"),
        ("https://s.example/lot/2", "2", "Two"),
    ]
    assert r.results[0].price_text == "$10"
    assert r.next_page == "https://s.example/search?page=2"


def test_selectors_take_full_size_links_not_thumbnails_or_related() -> None:
    html = """<html><body><h1 class="lot-title">Mask</h1><span class="lot-price">CHF 900</span>
    <div class="lot-gallery"><a href="/big/1.jpg"><img src="/small/1.jpg"></a></div>
    <div class="related"><a href="/big/99.jpg"><img src="/small/99.jpg"></a></div></body></html>"""
    r = extract_page(
        html,
        "http://127.0.0.1:8000/plain/lot/7",
        selectors={
            "title": "h1.lot-title::text",
            "price": "span.lot-price::text",
            "photos": "div.lot-gallery a::attr(href)",
        },
    )
    assert (r.title, r.item_id, r.price_text, r.currency) == ("Mask", "7", "CHF 900", "CHF")
    assert r.photos == ["http://127.0.0.1:8000/big/1.jpg"]


def test_gallery_heuristic_prefers_zoom_and_srcset() -> None:
    html = """<html><body><h1>Vase</h1><div class="product-gallery">
    <img src="/s/1.jpg" data-zoom-image="/l/1.jpg">
    <img src="/s/2.jpg" srcset="/m/2.jpg 600w, /l/2.jpg 1600w"></div>
    <div class="similar-items"><img src="/s/x.jpg" data-zoom-image="/l/x.jpg"></div></body></html>"""
    r = extract_page(html, "https://g.example/item/5")
    assert r.page_type == "item" and r.photos == ["https://g.example/l/1.jpg", "https://g.example/l/2.jpg"]


def test_challenge_not_found_and_js_shell() -> None:
    blocked = "<html><head><title>Just a moment...</title></head><body>Checking</body></html>"
    assert extract_page(blocked, "https://x.example/").page_type == "blocked"
    gone = "<html><title>Shop</title><body><h1>Sorry, this item is no longer available</h1></body>"
    assert extract_page(gone, "https://x.example/item/1").page_type == "not_found"
    shell = '<html><title>Lot</title><body><div id="app"></div><script src="/a.js"></script></body>'
    r = extract_page(shell, "https://x.example/live/lot/3")
    assert r.page_type == "needs_js" and r.reason


def test_challenge_markup_hints_cover_every_marker() -> None:
    """The cheap substring test in front of the marker regex never hides a marker it would find."""
    markers = _CHALLENGE_MARKUP.pattern.replace("\\.", ".").split("|")
    assert all(any(hint in marker for hint in MARKUP_HINTS) for marker in markers)
    page = '<html><body><div class="g-recaptcha" data-sitekey="x"></div></body></html>'
    assert extract_page(page, "https://x.example/").reason == "bot challenge: 'g-recaptcha' on a near-empty page"


def test_selectors_read_text_attributes_elements_and_odd_results() -> None:
    """Site selectors: CSS and XPath, text, attributes, whole elements, and results that are neither."""
    page = """<html><body><h1 class="t">Bronze <b>head</b></h1><span class="p">EUR 1,200</span>
    <div class="g"><a href="/p/1.jpg"><img src="/t/1.jpg"></a><img data-src="/p/2.jpg"></div></body></html>"""
    sel = Selector(text=page)
    assert select_text(sel, "h1.t") == "Bronze head"
    assert select_text(sel, "h1.t::text") == "Bronze"
    assert select_text(sel, " //span[@class='p']/text() ") == "EUR 1,200"
    assert select_text(sel, "(count(//a))") == ""  # a number: no text, as parsel gives it
    assert select_text(sel, "//b/text() | //h1") == "Bronze head"  # element first in document order
    assert select_urls(sel, "div.g a::attr(href)", "https://s.example/lot/1") == ["https://s.example/p/1.jpg"]
    assert select_urls(sel, "div.g img", "https://s.example/") == [
        "https://s.example/t/1.jpg",
        "https://s.example/p/2.jpg",
    ]
    assert select_urls(sel, "//comment()", "https://s.example/") == []


def test_price_parsing_and_ebay_size_upgrade() -> None:
    assert parse_price("US $1,234.50") == (1234.5, "USD")
    assert parse_price("12.500,00 €") == (12500.0, "EUR")
    assert parse_price("1,000円") == (1000.0, "JPY")
    assert (
        upgrade("https://i.ebayimg.com/thumbs/images/g/abc/s-l140.jpg")
        == "https://i.ebayimg.com/images/g/abc/s-l1600.jpg"
    )
