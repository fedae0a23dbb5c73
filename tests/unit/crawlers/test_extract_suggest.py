"""Suggested sites.toml selectors: they must find again, through the site-selector path, what the rules found."""

from __future__ import annotations

import tomllib
from pathlib import Path

from lootwatch.crawlers.extract import extract_page
from lootwatch.crawlers.extract.suggest import css_of, site_entry, suggest_selectors
from lxml import html as lxml_html
from parsel import Selector

PAGES = Path(__file__).resolve().parents[2] / "fixtures" / "crawlers" / "pages"


def test_generated_class_names_are_left_out_of_selectors() -> None:
    node = lxml_html.fromstring('<div class="fIeRnn sc-1x2y3z gallery css-9ab3 item-12345 main">x</div>')
    assert css_of(node) == "div.gallery.main"
    assert css_of(lxml_html.fromstring('<ul id="results" class="a">x</ul>')) == "#results"


def test_selectors_suggested_for_a_real_catalogue_page_find_the_same_results() -> None:
    page = PAGES / "gazette_drouot" / "sale_111295.html"
    url = "https://www.gazette-drouot.com/ventes-aux-encheres/111295--after-sale--photographies-tableaux-contemporains-design-street-art"
    text = page.read_text(encoding="utf-8")
    found = extract_page(text, url)
    selectors = suggest_selectors(Selector(text=text).root, found)
    assert selectors["item_url_pattern"] == "/lots/"
    # the entry parses as TOML, and the site selectors alone give the same results and next page
    entry = tomllib.loads(site_entry(found, selectors))
    site = next(iter(entry["sites"].values()))
    again = extract_page(text, url, selectors=site["selectors"])
    assert [r.url for r in again.results] == [r.url for r in found.results]
    assert again.next_page == found.next_page and again.sources["results"] == "site selector result_links"


def test_selectors_suggested_for_a_real_lot_page_find_its_title_and_photo() -> None:
    page = PAGES / "auction_fr" / "lot_18482281.html"
    url = "https://www.auction.fr/_fr/lot/napoleon-bonaparte-dit-le-prince-napoleon-1822-1891-2-l-a-s-1-page-et-demie-18482281"
    text = page.read_text(encoding="utf-8")
    found = extract_page(text, url)
    selectors = suggest_selectors(Selector(text=text).root, found)
    again = extract_page(text, url, selectors=selectors)
    assert again.title == found.title and again.sources["title"] == "site selector title"
    assert again.sources["photos"] == "site selector photos" and len(again.photos) == 1
