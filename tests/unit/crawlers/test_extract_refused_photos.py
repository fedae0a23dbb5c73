"""A listing's photo URL that is never fetched (javascript:, data:, in any case) leaves the extractor in
``refused_photos`` with its reason, for the spider to record; it is never dropped unseen."""

from __future__ import annotations

import json

from lootwatch.crawlers.extract import extract_page
from lootwatch.crawlers.extract.text import photo_refusal

HOSTILE = [
    "javascript:alert(document.domain)",
    "data:image/png;base64,iVBORw0KGgo=",
    "JAVASCRIPT:alert(1)",
    "Data:text/html,<script>alert(1)</script>",
    "ftp://93.184.216.34/img/x.jpg",
]


def _refused(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {r["url"]: r["reason"] for r in page.refused_photos}


def test_jsonld_photos_with_other_schemes_are_refused_with_their_reason() -> None:
    product = {
        "@type": "Product",
        "name": "Bronze head",
        "image": ["/img/a.jpg", *HOSTILE, "/img/b.jpg"],
        "offers": {"price": "10", "priceCurrency": "EUR"},
    }
    body = json.dumps(product).replace("</", "<\\/")  # as a page escapes it inside <script>
    html = f'<html><head><script type="application/ld+json">{body}</script></head><body></body></html>'
    page = extract_page(html, "https://auction.example/lot/1")
    assert page.photos == ["https://auction.example/img/a.jpg", "https://auction.example/img/b.jpg"]
    refused = _refused(page)
    assert list(refused) == HOSTILE
    for url, reason in refused.items():
        assert reason == f"refused: {url.split(':', 1)[0].lower()} scheme, only http(s) photos are fetched"


def test_site_selector_photos_in_lowercase_schemes_are_refused_not_dropped() -> None:
    links = "".join(f'<a class="ph" href="{u}">photo</a>' for u in ["/img/0.jpg", *HOSTILE, "/img/1.jpg"])
    html = f'<html><body><h1 class="t">Bronze head</h1><div class="g">{links}</div></body></html>'
    page = extract_page(
        html, "https://auction.example/lot/2", selectors={"title": "h1.t::text", "photos": "a.ph::attr(href)"}
    )
    assert page.photos == ["https://auction.example/img/0.jpg", "https://auction.example/img/1.jpg"]
    assert list(_refused(page)) == HOSTILE


def test_gallery_imgs_offering_only_other_schemes_are_refused_and_a_placeholder_is_not() -> None:
    html = """<html><body><h1>Bronze head of a youth</h1>
    <div class="lot-gallery">
      <img src="/photos/lot3/a.jpg" alt="front">
      <img src="javascript:alert(1)" alt="side">
      <img src="data:image/jpeg;base64,/9j/4AAQSkZJRg==" alt="back">
      <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-src="/photos/lot3/d.jpg" alt="top">
    </div>
    <footer><img src="data:image/gif;base64,R0lGODlhAQABAIAAAP==" alt="x"></footer>
    </body></html>"""
    page = extract_page(html, "https://auction.example/lot/3")
    assert page.page_type == "item"
    assert page.photos == ["https://auction.example/photos/lot3/a.jpg", "https://auction.example/photos/lot3/d.jpg"]
    # the lazy placeholder (its real URL in data-src) and the footer's inline image are no listing photos
    assert list(_refused(page)) == ["javascript:alert(1)", "data:image/jpeg;base64,/9j/4AAQSkZJRg=="]


def test_photo_refusal_reasons() -> None:
    assert photo_refusal("https://a.example/x.jpg") == "" == photo_refusal("HTTP://A.EXAMPLE/x.jpg")
    assert photo_refusal("javascript:void(0)") == "refused: javascript scheme, only http(s) photos are fetched"
    assert photo_refusal("//cdn.example/x.jpg") == "refused: no scheme, only http(s) photos are fetched"
    assert photo_refusal("http://[::1/x.jpg").startswith("refused: malformed URL")
