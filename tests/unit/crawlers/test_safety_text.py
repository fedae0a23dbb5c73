"""Listing text a seller controls is made storable, and every change is reported."""

from __future__ import annotations

from lootwatch.crawlers.extract.result import ITEM, PageResult, SearchResult
from lootwatch.crawlers.safety_text import REPLACEMENT, clean_record, clean_text, unsafe_count


def test_nul_controls_and_lone_surrogates_are_replaced_and_counted() -> None:
    hostile = "x\x00y\x1b[31mz\ud800\x7f"
    assert unsafe_count(hostile) == {"NUL": 1, "control character": 2, "lone surrogate": 1}
    cleaned = clean_text(hostile)
    assert cleaned == f"x{REPLACEMENT}y{REPLACEMENT}[31mz{REPLACEMENT}{REPLACEMENT}"
    cleaned.encode("utf-8")  # storable: no surrogate left
    assert clean_text("tab\tnew\nline\r ok — é") == "tab\tnew\nline\r ok — é"  # text layout is kept


def test_a_page_record_is_cleaned_field_by_field_with_notes() -> None:
    page = PageResult(
        url="http://site.example/lot/1",
        page_type=ITEM,
        title="Bronze\x00head",
        item_id="lot\x001",
        seller="dealer\x00\x00",
        description="fine",
        photos=["http://site.example/a.jpg", "http://site.example/b\x00.jpg"],
        results=[SearchResult(url="http://site.example/x", title="t\x01")],
    )
    cleaned, notes = clean_record(page)
    assert cleaned.title == f"Bronze{REPLACEMENT}head" and cleaned.item_id == f"lot{REPLACEMENT}1"
    assert cleaned.description == "fine" and cleaned.photos[0] == "http://site.example/a.jpg"
    assert page.title == "Bronze\x00head"  # the extracted record itself is left as it was
    assert notes == [
        "title: 1 NUL replaced with U+FFFD",
        "item_id: 1 NUL replaced with U+FFFD",
        "seller: 2 NULs replaced with U+FFFD",
        "photos[1]: 1 NUL replaced with U+FFFD",
        "results[0].title: 1 control character replaced with U+FFFD",
    ]
    same, none = clean_record(cleaned)
    assert same is cleaned and none == []
