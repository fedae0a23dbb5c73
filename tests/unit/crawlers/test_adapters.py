"""LiveAuctioneers (page-state JSON) and Catawiki (lot JSON in data-props) on small synthetic pages.

The fixtures follow the structure of those sites' pages (``window.__data`` with ``itemSummary`` /
``itemDetail`` tables; React ``data-props`` holding the lot), written for these tests, not copied.
"""

from __future__ import annotations

from pathlib import Path

from lootwatch.crawlers.extract import extract_page, guess_adapter

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "crawlers" / "adapters"
LA_ITEM = "https://www.liveauctioneers.com/item/187654321_roman-bronze-figure-of-mercury"
CW_LOT = "https://www.catawiki.com/en/l/98765432-ancient-egyptian-wooden-ushabti"


def _page(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def test_adapter_is_chosen_by_host() -> None:
    assert guess_adapter(LA_ITEM) == "liveauctioneers" and guess_adapter(CW_LOT) == "catawiki"


def test_liveauctioneers_item_from_page_state() -> None:
    got = extract_page(_page("liveauctioneers_item.html"), LA_ITEM)
    assert (got.adapter, got.page_type, got.item_id) == ("liveauctioneers", "item", "187654321")
    assert got.title == "Roman Bronze Figure of Mercury, ca. 2nd Century AD"
    # the leading bid, not the estimate nor the other lot in the same state
    assert (got.amount, got.currency, got.price_text) == (2750.0, "USD", "USD 2,750")
    assert got.seller == "Ancient Resource Auctions" and got.status == "open"
    assert got.sale_date.startswith("2026-01-01T16:30")
    assert got.description.startswith("Standing figure of the god") and "Germany" in got.description
    # full-size photos built from seller / catalogue / item ids, one per photo index, none of the other lot
    assert [p.split("?")[0] for p in got.photos] == [
        f"https://p1.liveauctioneers.com/5521/301122/187654321_{i}_x.jpg" for i in (1, 2, 3)
    ]


def test_liveauctioneers_search_results_from_page_state() -> None:
    got = extract_page(_page("liveauctioneers_search.html"), "https://www.liveauctioneers.com/c/antiquities/1/")
    assert got.page_type == "search"
    by_id = {r.item_id: r for r in got.results}
    assert set(by_id) == {"187654321", "187700001", "187700002"}
    assert by_id["187654321"].url == LA_ITEM and by_id["187654321"].price_text == "USD 2,750"
    assert by_id["187700001"].price_text == "GBP 4,200"  # sold: the sale price
    assert by_id["187700002"].url == "https://www.liveauctioneers.com/item/187700002"  # no slug
    assert by_id["187700002"].price_text == "EUR 600"  # no bid yet: the low estimate
    assert by_id["187700001"].image == "https://p1.liveauctioneers.com/880/301900/187700001_4_x.jpg"


def test_liveauctioneers_sold_item_status() -> None:
    html = (
        _page("liveauctioneers_item.html")
        .replace('"salePrice":0', '"salePrice":3600')
        .replace('"isSold":false', '"isSold":true')
    )
    got = extract_page(html, LA_ITEM)
    assert got.status == "sold" and got.amount == 3600.0


def test_catawiki_open_lot_from_data_props() -> None:
    got = extract_page(_page("catawiki_lot.html"), CW_LOT)
    assert (got.adapter, got.page_type, got.item_id) == ("catawiki", "item", "98765432")
    assert got.title == "Ancient Egyptian Wooden ushabti - 18 cm"
    assert (got.amount, got.currency, got.price_text) == (340.0, "EUR", "EUR 340")
    assert got.sale_date == "2026-02-14T19:02:00Z" and got.status == "open"
    assert got.description.startswith("Carved wooden funerary figure")
    # the large variants of this lot's images: no thumbnails, no related lot's image, no OG preview
    assert got.photos == [
        "https://assets.catawiki.com/image/cw_large/plain/assets/catawiki/assets/2026/1/10/a/b/c/ushabti-1.jpg",
        "https://assets.catawiki.com/image/cw_large/plain/assets/catawiki/assets/2026/1/10/a/b/c/ushabti-2.jpg",
    ]


def test_catawiki_closed_sold_lot_with_other_key_names() -> None:
    got = extract_page(_page("catawiki_lot_closed.html"), "https://www.catawiki.com/en/l/55501234-gandhara-head")
    assert got.item_id == "55501234" and got.title == "Gandhara schist head of Buddha"
    assert got.status == "sold" and got.price_text == "EUR 1,900"
    assert got.sale_date == "2025-11-02T18:00:00Z"
    assert got.photos == ["https://assets.catawiki.com/image/original/plain/buddha-1.jpg"]  # original size
