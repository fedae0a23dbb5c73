"""eBay: item pages (/itm/) and search pages (/sch/, current s-card and older s-item markup)."""

from __future__ import annotations

import re
from urllib.parse import urljoin

from lootwatch.crawlers.extract import heuristics, photos, structured
from lootwatch.crawlers.extract.generic import extract_generic
from lootwatch.crawlers.extract.result import ITEM, SEARCH, PageResult, SearchResult
from lootwatch.crawlers.extract.text import absolute, clean, join_text, parse_price
from parsel import Selector, SelectorList

_ITEM_ID = re.compile(r"/itm/(?:[^/?#]+/)?(\d{9,})")
# text outside these is the title; they hold "Opens in a new window", "New listing" badges
_NOT_TITLE = "ancestor::*[contains(@class,'clipped') or contains(@class,'LIGHT_HIGHLIGHT') or @role='button']"


def is_ebay(url: str) -> bool:
    return re.search(r"(^|\.)ebay\.[a-z.]+$", url.split("/")[2] if "//" in url else "") is not None


def extract_ebay(sel: Selector, html: str, url: str) -> PageResult:
    cards = (
        sel.css("ul.srp-results > li.s-card, ul.srp-results > li.s-item")
        or sel.css("li.s-card, li.s-item")
        or sel.css("div.s-card, div.s-item")
    )
    if cards:
        return _search(sel, url, cards)
    out = extract_generic(sel, html, url)
    out.adapter = "ebay"
    m = _ITEM_ID.search(url)  # the fetched URL's id: a page's rel=canonical is its own claim
    if not m:
        return out
    out.page_type = ITEM
    out.item_id = m.group(1)
    out.canonical_url = urljoin(url, f"/itm/{out.item_id}")
    # structured name first: the heading carries decoration spans
    title = join_text(sel.css("h1.x-item-title__mainTitle span.ux-textspans--BOLD::text, #itemTitle::text").getall())
    ld = structured.from_jsonld(sel, url)
    out.title = ld.title or title or out.title
    if not ld.description:
        out.description = ""  # og:description on eBay is marketing copy; the real one is in an iframe
    price = join_text(sel.css(".x-price-primary ::text, #prcIsum::text, #mm-saleDscPrc::text").getall())
    if price:
        out.price_text = price
        amount, currency = parse_price(price)
        out.amount, out.currency = amount, currency or out.currency
    approx = join_text(sel.css(".x-price-approx ::text").getall())
    if approx:
        out.extra["price_approx_text"] = approx
    seller = sel.css(".x-sellercard-atf__info__about-seller a ::text, .x-sellercard-atf__info__about-seller ::text")
    if seller:
        out.seller = clean(seller[0].get())
    gallery = [
        img.attrib.get("data-zoom-src") or img.attrib.get("data-src") or img.attrib.get("src", "")
        # the 2018-era view-item page shows one main image (#icImg) and the rest in its filmstrip
        for img in sel.css(
            ".ux-image-carousel-item img, .ux-image-filmstrip-carousel-item img, #icImg, #vi_main_img_fs img"
        )
    ]
    found = photos.dedupe([absolute(url, g) for g in gallery if g])
    if found:
        out.photos = found
    desc = sel.css("iframe#desc_ifr::attr(src)").get()
    if desc:
        out.extra["description_url"] = desc
    condition = [c for c in sel.css(".x-item-condition-text .ux-textspans::text").getall() if not c.endswith(":")]
    if condition:
        out.extra["condition"] = clean(condition[0])
    notice = join_text(
        sel.css(".d-statusmessage ::text, .vi-status-msg ::text, .x-alert-module ::text").getall()
    ).lower()
    if "sold" in notice:
        out.status = "sold"
    elif "ended" in notice:
        out.status = "ended"
    return out


def _search(sel: Selector, url: str, cards: SelectorList) -> PageResult:
    canonical = absolute(url, sel.xpath("//link[@rel='canonical']/@href").get()) or url
    out = PageResult(url=url, page_type=SEARCH, adapter="ebay", canonical_url=canonical)
    seen: set[str] = set()
    skipped = 0
    for card in cards:
        link = card.css("a.s-card__link::attr(href), a.s-item__link::attr(href), a[href*='/itm/']::attr(href)").get()
        m = _ITEM_ID.search(link or "")
        item_id = card.attrib.get("data-listingid") or (m.group(1) if m else "")
        title = join_text(card.css(".s-card__title, .s-item__title").xpath(f".//text()[not({_NOT_TITLE})]").getall())
        # placeholders ("Shop on eBay") carry no real listing
        if not item_id or not m or title.lower() in ("shop on ebay", "") or item_id in seen:
            skipped += 1
            continue
        seen.add(item_id)
        price = join_text(card.css(".s-card__price ::text, .s-item__price ::text").getall())
        img = card.css("img")
        thumb = absolute(url, (img[0].attrib.get("data-src") or img[0].attrib.get("src")) if img else "")
        out.results.append(
            SearchResult(
                url=urljoin(url, f"/itm/{item_id}"),
                item_id=item_id,
                title=title,
                price_text=price,
                thumb=thumb,
                image=photos.upgrade(thumb) if thumb else "",
            )
        )
    out.extra["placeholders_skipped"] = skipped
    nxt = sel.css("a.pagination__next::attr(href)").get()
    out.next_page = absolute(url, nxt) if nxt else heuristics.next_page(sel, url)
    return out
