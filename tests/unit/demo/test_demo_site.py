"""The demo auction site over a small hand-written lots.json: routes, selectors, escaping, refusals."""

from __future__ import annotations

import http.client
import io
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from parsel import Selector
from PIL import Image

from lootwatch.core.errors import BadInputError
from lootwatch.demo.site import DemoSite, serve

EVIL = 'Vase <script>alert(1)</script> & "friends"'


def _lot(lot_id: str, style: str, title: str = "Old painted jug", photos: int = 2) -> dict:
    return {
        "id": lot_id,
        "style": style,
        "title": title,
        "description": f"Description of {lot_id} <b>bold?</b>",
        "price_text": "EUR 1,200",
        "amount": 1200,
        "currency": "EUR",
        "seller": "estate_finds_77",
        "end_date": "2025-09-14 18:00 UTC",
        "status": "open",
        "photos": [f"{lot_id.lower()}-{k + 1}.jpg" for k in range(photos)],
    }


LOTS = (
    [_lot(f"P{k}", "plain", EVIL if k == 1 else f"Plain lot {k}") for k in range(1, 8)]  # 7 lots: 2 pages
    + [_lot("J1", "jsonld", EVIL), _lot("J2", "jsonld")]
    + [_lot("S1", "js", EVIL), _lot("S2", "js")]
)


def _jpeg(colour: tuple[int, int, int], size: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    (root / "photos" / "thumb").mkdir(parents=True)
    for k, lot in enumerate(LOTS):
        for name in lot["photos"]:
            (root / "photos" / name).write_bytes(_jpeg((k * 20, 100, 50), 64))
            (root / "photos" / "thumb" / name).write_bytes(_jpeg((k * 20, 100, 50), 16))
    (root / "lots.json").write_text(json.dumps(LOTS))
    (root.parent / "answers.json").write_text(json.dumps({lot["id"]: None for lot in LOTS}))
    return root


@pytest.fixture(scope="module")
def site(site_dir: Path) -> Iterator[DemoSite]:
    with serve(site_dir) as running:
        yield running


def get(site: DemoSite, path: str) -> tuple[int, str, bytes]:
    """Fetch ``path`` byte for byte as given (no client-side normalisation of ``..``)."""
    parts = urlsplit(site.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type") or "", resp.read()
    finally:
        conn.close()


def page(site: DemoSite, path: str) -> Selector:
    status, ctype, body = get(site, path)
    assert status == 200 and ctype.startswith("text/html"), (path, status)
    return Selector(text=body.decode("utf-8"))


def test_robots_txt(site: DemoSite) -> None:
    status, ctype, body = get(site, "/robots.txt")
    assert status == 200 and ctype.startswith("text/plain")
    assert body.decode() == "User-agent: *\nCrawl-delay: 0\nDisallow: /private/\n"


def test_home_links_the_three_sections(site: DemoSite) -> None:
    links = set(page(site, "/").css("main a::attr(href)").getall())
    assert {"/plain/", "/catalogue/", "/live/"} <= links


def test_plain_search_pages_and_pagination(site: DemoSite) -> None:
    first = page(site, "/plain/")
    assert first.css("a.lot-link::attr(href)").getall() == [f"/plain/lot/P{k}" for k in range(1, 7)]
    assert first.css("a[rel=next]::attr(href)").get() == "/plain/?page=2"
    second = page(site, "/plain/?page=2")
    assert second.css("a.lot-link::attr(href)").getall() == ["/plain/lot/P7"]
    assert second.css("a[rel=next]").get() is None
    assert get(site, "/plain/?page=3")[0] == 404
    assert get(site, "/plain/?page=x")[0] == 404


def test_plain_item_page_selectors(site: DemoSite) -> None:
    sel = page(site, "/plain/lot/P2")
    assert sel.css("h1.lot-title::text").get() == "Plain lot 2"
    assert sel.css("span.lot-price::text").get() == "EUR 1,200"
    assert sel.css("span.lot-seller::text").get() == "estate_finds_77"
    assert sel.css("span.lot-date::text").get() == "2025-09-14 18:00 UTC"
    assert sel.css("div.lot-description::text").get() == "Description of P2 <b>bold?</b>"
    assert sel.css("div.lot-gallery a::attr(href)").getall() == ["/photos/p2-1.jpg", "/photos/p2-2.jpg"]
    assert sel.css("div.lot-gallery img::attr(src)").getall() == [
        "/photos/thumb/p2-1.jpg",
        "/photos/thumb/p2-2.jpg",
    ]
    related = sel.css("div.related img::attr(src)").getall()
    assert related and not any("/p2-" in src for src in related)  # the trap: other lots' photos


def test_script_title_is_escaped_in_every_style(site: DemoSite) -> None:
    for path in ("/plain/", "/plain/lot/P1", "/catalogue/", "/catalogue/item/J1", "/live/"):
        status, _, body = get(site, path)
        text = body.decode()
        assert status == 200
        assert "<script>alert(1)" not in text, path
        assert text.count("</script>") == text.count("<script"), path  # no script element opened by a title
    assert page(site, "/plain/lot/P1").css("h1.lot-title::text").get() == EVIL
    status, ctype, body = get(site, "/api/lots/S1.json")
    assert ctype.startswith("application/json") and json.loads(body)["title"] == EVIL


def test_jsonld_search_and_item(site: DemoSite) -> None:
    sel = page(site, "/catalogue/")
    item_list = json.loads(sel.css('script[type="application/ld+json"]::text').get(""))
    assert item_list["@type"] == "ItemList"
    urls = [e["url"] for e in item_list["itemListElement"]]
    assert urls == [f"{site.url}/catalogue/item/J1", f"{site.url}/catalogue/item/J2"]
    assert item_list["itemListElement"][0]["name"] == EVIL

    item = page(site, "/catalogue/item/J1")
    product = json.loads(item.css('script[type="application/ld+json"]::text').get(""))
    assert product["@type"] == "Product" and product["name"] == EVIL and product["sku"] == "J1"
    assert product["image"] == [f"{site.url}/photos/j1-1.jpg", f"{site.url}/photos/j1-2.jpg"]
    offers = product["offers"]
    assert (offers["price"], offers["priceCurrency"]) == ("1200.00", "EUR")
    assert offers["seller"]["name"] == "estate_finds_77" and offers["availability"].endswith("InStock")
    assert item.css('meta[property="og:title"]::attr(content)').get() == EVIL
    assert item.css('meta[property="og:image"]::attr(content)').getall() == product["image"]
    for url in product["image"]:
        with urllib.request.urlopen(url) as resp:
            assert resp.headers["Content-Type"] == "image/jpeg"


def test_js_item_page_has_no_photo_urls_until_its_script_runs(site: DemoSite) -> None:
    search = page(site, "/live/")
    assert search.css("a.lot-link::attr(href)").getall() == ["/live/lot/S1", "/live/lot/S2"]
    status, _, body = get(site, "/live/lot/S2")
    raw = body.decode()
    assert status == 200 and '<div id="app">' in raw
    assert "/photos/" not in raw and ".jpg" not in raw and "Old painted jug" not in raw
    assert "/api/lots/" in raw and "textContent" in raw and "innerHTML" not in raw
    status, _, body = get(site, "/api/lots/S2.json")
    data = json.loads(body)
    assert status == 200 and data["photos"] == ["/photos/s2-1.jpg", "/photos/s2-2.jpg"]
    assert data["title"] == "Old painted jug" and data["price_text"] == "EUR 1,200"


def test_lots_are_served_only_under_their_own_style(site: DemoSite) -> None:
    for path in (
        "/plain/lot/J1",
        "/catalogue/item/P1",
        "/live/lot/P1",
        "/api/lots/P1.json",
        "/plain/lot/NOPE",
    ):
        assert get(site, path)[0] == 404, path


def test_photos_are_served_and_traversal_is_refused(site: DemoSite, site_dir: Path) -> None:
    status, ctype, body = get(site, "/photos/p1-1.jpg")
    assert status == 200 and ctype == "image/jpeg" and body == (site_dir / "photos" / "p1-1.jpg").read_bytes()
    status, ctype, body = get(site, "/photos/thumb/p1-1.jpg")
    assert status == 200 and Image.open(io.BytesIO(body)).size == (16, 16)
    secret = (site_dir / "lots.json").read_bytes()
    for path in (
        "/photos/../lots.json",
        "/photos/thumb/../../lots.json",
        "/photos/%2e%2e/lots.json",
        "/photos/..%2flots.json",
        "/photos/../../answers.json",
        "/photos//etc/passwd",
        "/photos/",
        "/photos/thumb/",
        "/lots.json",
        "/private/",
        "/photos/missing.jpg",
    ):
        status, _, body = get(site, path)
        assert status == 404, path
        assert body != secret and b"alert" not in body


def test_head_request_sends_headers_only(site: DemoSite) -> None:
    parts = urlsplit(site.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    conn.request("HEAD", "/photos/p1-1.jpg")
    resp = conn.getresponse()
    assert resp.status == 200 and int(resp.getheader("Content-Length", "0")) > 0 and resp.read() == b""
    conn.close()


def test_close_stops_the_server(site_dir: Path) -> None:
    running = serve(site_dir)
    url = running.url
    with urllib.request.urlopen(url + "/robots.txt") as resp:
        assert resp.status == 200
    running.close()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/robots.txt", timeout=2)


def test_missing_or_bad_lots_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="lots.json"):
        serve(tmp_path)
    (tmp_path / "lots.json").write_text(json.dumps([_lot("../x", "plain")]))
    with pytest.raises(BadInputError, match="lot id"):
        serve(tmp_path)


@pytest.mark.browser
def test_js_item_page_renders_in_chromium_without_running_the_title(site: DemoSite) -> None:
    import shutil

    from playwright.sync_api import Dialog, sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium on PATH")
    dialogs: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            tab = browser.new_page()

            def on_dialog(dialog: Dialog) -> None:
                dialogs.append(dialog.message)
                dialog.dismiss()

            tab.on("dialog", on_dialog)
            tab.goto(f"{site.url}/live/lot/S1")
            tab.wait_for_selector("img.lot-photo", timeout=10_000)
            assert tab.inner_text("h1.lot-title") == EVIL
            assert tab.inner_text("span.lot-price") == "EUR 1,200"
            assert tab.inner_text("span.lot-seller") == "estate_finds_77"
            srcs = tab.eval_on_selector_all("img.lot-photo", "els => els.map(e => e.getAttribute('src'))")
            assert srcs == ["/photos/s1-1.jpg", "/photos/s1-2.jpg"]
            assert tab.locator("#app script").count() == 0  # the title stayed text
        finally:
            browser.close()
    assert dialogs == []
