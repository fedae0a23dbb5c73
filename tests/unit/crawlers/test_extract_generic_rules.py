"""The generic rules on small pages, one behaviour each: size variants, the gallery against carousels of
other listings, JSON page state, data-* galleries, titles without the site's name, result cards, paging."""

from __future__ import annotations

import json

import pytest
from lootwatch.crawlers.extract import extract_page
from lootwatch.crawlers.extract.text import decode_page, site_of, strip_http_headers
from lootwatch.crawlers.extract.titles import clean_title
from lootwatch.crawlers.extract.variants import largest_of_each, photo_key, size_rank


@pytest.mark.parametrize(
    ("small", "large"),
    [
        ("https://i.ebayimg.com/images/g/AbC/s-l500.jpg", "https://i.ebayimg.com/images/g/AbC/s-l1600.jpg"),
        ("https://m.media-amazon.com/images/I/71ab._AC_SX300_.jpg", "https://m.media-amazon.com/images/I/71ab.jpg"),
        (
            "https://i.etsystatic.com/1/r/il/d5/29/il_794xN.2984_27qx.jpg",
            "https://i.etsystatic.com/1/r/il/d5/29/il_fullxfull.2984_27qx.jpg",
        ),
        (
            "https://site.example/wp-content/uploads/vase-300x300.jpg",
            "https://site.example/wp-content/uploads/vase.jpg",
        ),
        ("https://cdn.example/thumb/lots/991_2.jpg", "https://cdn.example/lots/991_2.jpg"),
        ("https://res.example/image/upload/w_300,c_fill/v1/a.jpg", "https://res.example/image/upload/v1/a.jpg"),
        ("https://img.example/p/88.jpg?w=200&h=200&fit=crop", "https://img.example/p/88.jpg?w=1600"),
        (
            "https://cdn.cars.example/2024/05/p1.jpg?resize=235%2C159",
            "https://cdn.cars.example/2024/05/p1.jpg?fit=2048%2C1365",
        ),
        (
            "https://cdn.hibid.com/img.axd?id=77&w=200&h=200&sz=200&checksum=a",
            "https://cdn.hibid.com/img.axd?id=77&w=0&h=0&sz=MAX&checksum=b",
        ),
        (
            "https://static.mercdn.net/thumb/item/webp/m38793557194_1.jpg?17",
            "https://static.mercdn.net/item/detail/orig/photos/m38793557194_1.jpg?17",
        ),
    ],
)
def test_size_variants_collapse_to_the_largest(small: str, large: str) -> None:
    assert size_rank(large) > size_rank(small)
    assert largest_of_each([small, large]) == [large] and largest_of_each([large, small]) == [large]


def test_different_photos_stay_apart() -> None:
    urls = [
        "https://i.ebayimg.com/images/g/AAA/s-l500.jpg",
        "https://i.ebayimg.com/images/g/BBB/s-l500.jpg",
        "https://cdn.hibid.com/img.axd?id=1&sz=MAX",
        "https://cdn.hibid.com/img.axd?id=2&sz=MAX",
        "https://x.example/lots/12_1.jpg?w=300",
        "https://x.example/lots/12_2.jpg?w=300",
    ]
    assert largest_of_each(urls) == urls
    assert len({photo_key(u) for u in urls}) == len(urls)


GALLERY_WITH_CAROUSEL = """<html><head><title>Roman oil lamp | Maison Dupont</title>
<meta property="og:site_name" content="Maison Dupont">
<meta property="og:image" content="https://cdn.dupont.example/lots/4411_1.jpg?w=1200"></head><body>
<header><img src="/static/logo.png" alt="Maison Dupont"></header>
<h1>Roman oil lamp</h1><div class="lot-price">€ 450</div>
<div class="lot-media">
  <img src="https://cdn.dupont.example/lots/4411_1.jpg?w=400"
       srcset="https://cdn.dupont.example/lots/4411_1.jpg?w=400 400w,
               https://cdn.dupont.example/lots/4411_1.jpg?w=1600 1600w">
  <img src="https://cdn.dupont.example/lots/4411_2.jpg?w=400" data-zoom-image="https://cdn.dupont.example/lots/4411_2.jpg?w=2000">
  <img src="https://cdn.dupont.example/lots/4411_3.jpg?w=80" width="80" height="80">
</div>
<section class="widget"><h2>Other lots in this sale</h2>
  <a href="/lot/4412-greek-vase"><img src="https://cdn.dupont.example/lots/4412_1.jpg?w=300"></a>
  <a href="/lot/4413-coin"><img src="https://cdn.dupont.example/lots/4413_1.jpg?w=300"></a>
</section>
<div class="seller"><img src="https://cdn.dupont.example/people/avatar_7.jpg"></div>
</body></html>"""


def test_gallery_keeps_own_photos_at_largest_and_leaves_out_other_lots() -> None:
    r = extract_page(GALLERY_WITH_CAROUSEL, "https://dupont.example/lot/4411-roman-oil-lamp")
    assert r.page_type == "item" and r.title == "Roman oil lamp"
    assert r.photos == [
        "https://cdn.dupont.example/lots/4411_1.jpg?w=1600",
        "https://cdn.dupont.example/lots/4411_2.jpg?w=2000",
        "https://cdn.dupont.example/lots/4411_3.jpg?w=80",
    ]
    assert r.extra["other_listing_photos_left_out"] == 2
    # the gallery holds the og:image, so the photos are sure; that the page is a listing rests on its heading
    assert r.sources["photos"] == "markup gallery" and r.confidence >= 0.9
    assert r.review_reasons == [
        "read as a listing from its heading and photo gallery alone (no structured data names it)"
    ]


def test_only_a_sharing_image_is_flagged_for_review() -> None:
    html = """<html><head><meta property="og:type" content="product"><meta property="og:title" content="Bronze bell">
    <meta property="og:image" content="https://c.example/b/1.jpg"></head><body><div id="app"></div></body></html>"""
    r = extract_page(html, "https://c.example/item/9")
    assert r.photos == ["https://c.example/b/1.jpg"]
    assert r.needs_review and "og:image" in r.review_reasons[0] and r.confidence < 0.5


def test_photos_from_json_page_state_by_the_listing_title() -> None:
    state = {
        "props": {
            "pageProps": {
                "lot": {
                    "title": "Etruscan bronze mirror",
                    "images": [{"url": "https://img.example/m/1.jpg"}, {"url": "https://img.example/m/2.jpg"}],
                    "seller": {"name": "House", "logo": "https://img.example/house.png"},
                    "related": [{"title": "Other lot", "image": "https://img.example/o/1.jpg"}],
                },
                "recommended": [{"title": "Another", "images": ["https://img.example/o/2.jpg"]}],
            }
        }
    }
    html = f"""<html><head><meta property="og:type" content="product">
    <meta property="og:title" content="Etruscan bronze mirror"></head>
    <body><div id="__next"><h1>Etruscan bronze mirror</h1></div>
    <script id="__NEXT_DATA__" type="application/json">{json.dumps(state)}</script></body></html>"""
    r = extract_page(html, "https://img.example/lot/5")
    assert r.photos == ["https://img.example/m/1.jpg", "https://img.example/m/2.jpg"]
    assert "page state JSON" in r.sources["photos"]


def test_microdata_thumbnail_gives_way_to_the_linked_full_size() -> None:
    html = """<html><body><div itemscope itemtype="https://schema.org/Product"><h1 itemprop="name">Ushabti</h1>
    <div class="gallery"><a href="https://p.example/full/u1.jpg"><img itemprop="image" src="https://p.example/thumb/u1.jpg"></a>
    <a href="https://p.example/full/u2.jpg"><img src="https://p.example/thumb/u2.jpg"></a></div></div></body></html>"""
    r = extract_page(html, "https://p.example/lot/1")
    assert r.photos == ["https://p.example/full/u1.jpg", "https://p.example/full/u2.jpg"]


@pytest.mark.parametrize(
    ("title", "names", "want"),
    [
        ("Ancient bronze figure - Etsy", ["etsy"], "Ancient bronze figure"),
        ("ハローキティ ストラップ by メルカリ", ["メルカリ"], "ハローキティ ストラップ"),
        ("Catawiki | Egyptian ushabti", ["catawiki"], "Egyptian ushabti"),
        ("Roman coin | eBay.de", ["ebay"], "Roman coin"),
        ("Le vase de Sèvres", ["sevres"], "Le vase de Sèvres"),
        ("Etsy", ["etsy"], "Etsy"),
    ],
)
def test_site_name_cut_from_titles(title: str, names: list[str], want: str) -> None:
    assert clean_title(title, names) == want


def test_site_name_learned_from_title_and_heading() -> None:
    html = """<html><head><title>Gandhara schist head ｜ Kunsthandel Weber</title></head><body>
    <h1>Gandhara schist head</h1><div class="product-images"><img src="/i/1.jpg"></div></body></html>"""
    r = extract_page(html, "https://weber-kunst.example/objekt/77")
    assert r.page_type == "item" and r.title == "Gandhara schist head"


def _grid(next_link: str) -> str:
    cards = "".join(
        f'<li class="card card--{i % 2}"><a href="/lot/{100 + i}-object"><img src="/t/{100 + i}.jpg?w=200"></a>'
        f'<h3><a href="/lot/{100 + i}-object">Object {i}</a></h3><span class="price">€ {i}0</span></li>'
        for i in range(1, 7)
    )
    return f"""<html><body><nav><ul><li class="m"><a href="/a"><img src="/i/a.png"></a>A</li>
    <li class="m"><a href="/b"><img src="/i/b.png"></a>B</li>
    <li class="m"><a href="/c"><img src="/i/c.png"></a>C</li></ul></nav>
    <h1>Antiquities</h1><ul class="results">{cards}</ul>{next_link}</body></html>"""


def test_repeated_cards_are_search_results() -> None:
    r = extract_page(_grid('<a href="?page=2" aria-label="Page suivante">›</a>'), "https://h.example/c/antiquities")
    assert r.page_type == "search"
    assert [x.url for x in r.results] == [f"https://h.example/lot/{100 + i}-object" for i in range(1, 7)]
    assert [x.title for x in r.results][:2] == ["Object 1", "Object 2"] and r.results[0].price_text == "€ 10"
    assert r.results[0].item_id == "101" and r.results[0].thumb == "https://h.example/t/101.jpg?w=200"
    assert r.next_page == "https://h.example/c/antiquities?page=2"


@pytest.mark.parametrize(
    ("link", "want"),
    [
        (
            '<div class="pages"><a href="?seite=1">1</a><a href="?seite=2">2</a><a href="?seite=3">3</a></div>',
            "?seite=2",
        ),
        ('<a href="/c/antiquities/p/2">weiter</a>', "/c/antiquities/p/2"),
        ('<a href="/c/antiquities?pg=2">次へ</a>', "/c/antiquities?pg=2"),
        ('<link rel="next" href="/c/antiquities?page=2">', "/c/antiquities?page=2"),
        ('<div class="pager"><a href="/c/antiquities?p=2">Siguiente</a></div>', "/c/antiquities?p=2"),
        ('<a href="/c/antiquities?p=2" title="suivant">»</a>', "/c/antiquities?p=2"),
        ('<a rel="next" href="/">Home</a><a class="nextLink" href="/c/antiquities?o=20"></a>', "/c/antiquities?o=20"),
    ],
)
def test_next_page_found(link: str, want: str) -> None:
    r = extract_page(_grid(link), "https://h.example/c/antiquities")
    assert r.next_page == "https://h.example" + (want if want.startswith("/") else "/c/antiquities" + want)


def test_paging_that_needs_javascript_is_reported() -> None:
    r = extract_page(_grid('<button class="more" type="button">Load more</button>'), "https://h.example/c/antiquities")
    assert r.page_type == "search" and r.next_page == ""
    assert r.extra["paging"] == "javascript" and r.needs_review


def test_raw_http_response_headers_before_the_page() -> None:
    page = "HTTP/2 200\nserver: nginx\ncontent-type: text/html\n\n<!DOCTYPE html><html><body><h1>x</h1></body></html>"
    html, status = strip_http_headers(page)
    assert html.startswith("<!DOCTYPE html>") and status == "HTTP/2 200"
    assert strip_http_headers("<html></html>") == ("<html></html>", "")


@pytest.mark.parametrize(
    "html",
    [
        '<html><body><h1>Deep</h1><script type="application/json">{deep}</script></body></html>',
        '<html><head><script type="application/ld+json">{deep}</script></head><body><h1>Deep</h1></body></html>',
        "<html><body><h1>Deep</h1><script>window.__data = {deep};</script></body></html>",
        '<html><body><script id="__NEXT_DATA__" type="application/json">{deep}</script></body></html>',
    ],
)
@pytest.mark.parametrize("url", ["https://x.example/lot/1234", "https://www.catawiki.com/en/l/1234"])
def test_json_nested_past_the_parsers_depth_is_no_listing_and_no_crash(html: str, url: str) -> None:
    deep = '{"a":' * 3000 + "1" + "}" * 3000
    r = extract_page(html.replace("{deep}", deep), url)
    assert r.page_type in ("needs_js", "unknown") and not r.photos


def test_srcset_descriptor_without_url_is_not_a_photo() -> None:
    html = '<html><body><h1>T</h1><div class="gallery"><img srcset=" 12x, /b.jpg 2x" src="/a.jpg"></div></body></html>'
    r = extract_page(html, "https://x.example/lot/1234")
    assert r.photos == ["https://x.example/b.jpg"]


def test_saved_pages_are_read_in_the_encoding_they_declare() -> None:
    page = '<html><head><meta charset="shift_jis"><title>壺</title></head><body><h1>古伊万里 壺</h1></body></html>'
    assert decode_page(page.encode("shift_jis")) == page
    legacy = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252"></head>é</html>'
    assert decode_page(legacy.encode("cp1252")) == legacy
    saved = "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=EUC-JP\r\n\r\n<html><h1>落札</h1></html>"
    assert decode_page(saved.encode("euc-jp")) == saved
    assert decode_page("<html>ünïcode</html>".encode()) == "<html>ünïcode</html>"
    assert decode_page(b"\xef\xbb\xbf<html>x</html>") == "<html>x</html>"
    assert decode_page(b"<html>caf\xe9</html>") == "<html>café</html>"  # not UTF-8, nothing declared


def test_gallery_in_a_data_attribute_with_hundreds_of_photos_in_two_sizes() -> None:
    items = [
        {
            "title": f"Photo {i}",  # a caption, not another listing
            "large": {"url": f"https://cdn.cars.example/2024/05/p{i:03d}.jpg?fit=2048%2C1365"},
            "small": {"url": f"https://cdn.cars.example/2024/05/p{i:03d}.jpg?resize=235%2C159"},
        }
        for i in range(240)
    ]
    related = [{"title": "1967 Other Car", "url": "/listing/other-car/", "image": "https://cdn.cars.example/o.jpg"}]
    html = f"""<html><head><meta property="og:type" content="product"><meta property="og:title" content="1966 Coupe">
    <meta property="og:image" content="https://cdn.cars.example/2024/05/p000.jpg?fit=1200%2C630"></head>
    <body><h1>1966 Coupe</h1><div class="gallery" data-gallery-items='{json.dumps(items)}'></div>
    <div class="related-listings" data-listings='{json.dumps(related)}'></div></body></html>"""
    r = extract_page(html, "https://cars.example/listing/1966-coupe/")
    assert len(r.photos) == 240 and r.photos[0] == "https://cdn.cars.example/2024/05/p000.jpg?fit=2048%2C1365"
    assert all("resize" not in p for p in r.photos) and "https://cdn.cars.example/o.jpg" not in r.photos


def test_microdata_reads_the_products_own_name_not_a_nested_items_and_leaves_hidden_text_out() -> None:
    html = """<html><body><div itemscope itemtype="https://schema.org/Product">
    <ul itemscope itemtype="https://schema.org/BreadcrumbList"><li itemprop="itemListElement" itemscope
      itemtype="https://schema.org/ListItem"><a itemprop="item" href="/c/1"><span itemprop="name">Coins</span></a>
    </li></ul>
    <h1 itemprop="name"><span class="g-hdn">Details zu </span>Roman denarius of Trajan</h1>
    <img itemprop="image" src="/p/denarius.jpg"></div></body></html>"""
    page = extract_page(html, "https://shop.example/itm/123")
    assert page.title == "Roman denarius of Trajan"


def test_listing_cards_may_link_to_another_host_of_the_same_site() -> None:
    cards = "".join(
        f'<li class="res"><a href="https://www.shop.co.uk/itm/{n}"><img src="https://img.shop.co.uk/{n}.jpg"></a>'
        f'<h3><a href="https://www.shop.co.uk/itm/{n}">Bronze co<wbr/>in number {n}</a></h3><span>£{n}.00</span></li>'
        for n in range(101, 105)
    )
    page = extract_page(f"<html><body><ul>{cards}</ul></body></html>", "https://stores.shop.co.uk/dealer")
    assert page.page_type == "search"
    assert [r.item_id for r in page.results] == ["101", "102", "103", "104"]
    assert page.results[0].title == "Bronze coin number 101"  # <wbr> marks a wrap point, not a word break
    assert site_of("https://stores.shop.co.uk/x") == site_of("https://www.shop.co.uk/") == "shop.co.uk"
    assert site_of("https://www.ebay.de/itm/1") == "ebay.de" != site_of("https://www.facebook.com/share")
