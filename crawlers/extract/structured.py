"""schema.org JSON-LD, microdata and OpenGraph: the markup most listing pages carry for search engines."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lootwatch.crawlers.extract import xpath
from lootwatch.crawlers.extract.text import absolute, as_float, clean, loads_lenient, photo_address, shown_text, unique
from parsel import Selector

PRODUCT_TYPES = frozenset(
    {
        "product",
        "individualproduct",
        "productmodel",
        "visualartwork",
        "sculpture",
        "painting",
        "artwork",
        "creativework",
        "vehicle",
        "car",
        "book",
    }
)


@dataclass
class Structured:
    """Listing fields found in structured markup (empty where absent)."""

    found: bool = False
    title: str = ""
    description: str = ""
    item_id: str = ""
    images: list[str] = field(default_factory=list)
    amount: float | None = None
    currency: str | None = None
    availability: str = ""
    seller: str = ""
    date: str = ""
    url: str = ""
    item_list: list[dict[str, str]] = field(default_factory=list)  # ItemList entries: url, name, image, price


def _types(node: dict) -> set[str]:
    t = node.get("@type", [])
    return {str(x).rsplit("/", 1)[-1].lower() for x in (t if isinstance(t, list) else [t])}


def _walk(value: Any) -> Iterator[dict]:
    if isinstance(value, dict):
        yield value
        for key in ("@graph", "mainEntity", "itemOffered", "about"):
            if key in value:
                yield from _walk(value[key])
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


def jsonld_nodes(sel: Selector) -> list[dict]:
    nodes: list[dict] = []
    for raw in xpath.strings(sel.root, 'script[type="application/ld+json"]::text', css=True):
        try:
            nodes.extend(_walk(loads_lenient(raw)))
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser follows
            continue
    return nodes


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _name(value: Any) -> str:
    value = _first(value)
    if isinstance(value, dict):
        return clean(str(value.get("name") or value.get("alternateName") or ""))
    return clean(str(value or ""))


def _image_urls(base: str, value: Any) -> list[str]:
    out: list[str] = []
    for v in value if isinstance(value, list) else [value]:
        if isinstance(v, dict):
            v = v.get("contentUrl") or v.get("url") or v.get("@id")
        if isinstance(v, str):
            out.append(photo_address(base, v))
    return unique(out)


def _offer(node: dict) -> dict:
    offers = node.get("offers")
    offers = _first(offers) if isinstance(offers, list) else offers
    if isinstance(offers, dict) and _types(offers) & {"aggregateoffer"} and "offers" in offers:
        offers = _first(offers["offers"]) or offers
    return offers if isinstance(offers, dict) else {}


def from_jsonld(sel: Selector, base: str) -> Structured:
    out = Structured()
    nodes = jsonld_nodes(sel)
    product = next((n for n in nodes if _types(n) & PRODUCT_TYPES and (n.get("name") or n.get("image"))), None)
    if product is None:  # a bare Offer carrying the item
        product = next((n for n in nodes if _types(n) & {"offer"} and n.get("name")), None)
    if product is not None:
        out.found = True
        offer = _offer(product) or (product if _types(product) & {"offer"} else {})
        out.title = _name(product.get("name"))
        out.description = clean(str(_first(product.get("description")) or ""))
        out.item_id = clean(str(product.get("productID") or product.get("sku") or product.get("identifier") or ""))
        out.images = _image_urls(base, product.get("image"))
        out.amount = as_float(offer.get("price") if offer.get("price") is not None else offer.get("lowPrice"))
        out.currency = offer.get("priceCurrency") or None
        out.availability = str(offer.get("availability") or "")
        out.seller = _name(offer.get("seller") or product.get("seller") or "")
        out.date = str(
            offer.get("availabilityEnds")
            or offer.get("priceValidUntil")
            or offer.get("validThrough")
            or product.get("endDate")
            or product.get("dateCreated")
            or ""
        )
        out.url = absolute(base, str(product.get("url") or offer.get("url") or ""))
    for node in nodes:
        if "itemlist" in _types(node):
            for el in node.get("itemListElement") or []:
                entry = _list_entry(base, el)
                if entry:
                    out.item_list.append(entry)
    return out


def _list_entry(base: str, el: Any) -> dict[str, str] | None:
    if isinstance(el, str):
        return {"url": absolute(base, el)}
    if not isinstance(el, dict):
        return None
    item: dict = el["item"] if isinstance(el.get("item"), dict) else el
    url = (
        item.get("url")
        or item.get("@id")
        or (el.get("item") if isinstance(el.get("item"), str) else "")
        or el.get("url")
    )
    if not url:
        return None
    offer = _offer(item)
    price = offer.get("price")
    return {
        "url": absolute(base, str(url)),
        "name": _name(item.get("name")),
        "image": (_image_urls(base, item.get("image")) or [""])[0],
        "price": f"{offer.get('priceCurrency', '')} {price}".strip() if price is not None else "",
    }


_MICRODATA_SCOPE = (
    "//*[@itemscope and (contains(@itemtype,'Product') or contains(@itemtype,'VisualArtwork') "
    "or contains(@itemtype,'CreativeWork'))][not(ancestor::*[@itemscope])]"
)


def from_microdata(sel: Selector, base: str) -> Structured:
    out = Structured()
    scope = xpath.run(sel.root, _MICRODATA_SCOPE)  # lxml: most pages have none, and need no Selector for it
    if not scope:
        return out
    node = Selector(root=scope[0])

    def own_scope(hit: Selector) -> bool:
        holder = next((a for a in hit.root.iterancestors() if a.get("itemscope") is not None), None)
        return holder is scope[0]

    def prop(name: str) -> Selector | None:
        # the product's own property before one of an item nested in it (a breadcrumb's name, a brand's)
        hits = node.xpath(f".//*[@itemprop='{name}']")
        own = [h for h in hits if own_scope(h)]
        return (own or hits)[0] if hits else None

    def value(name: str) -> str:
        hit = prop(name)
        if hit is None:
            return ""
        for attr in ("content", "value", "datetime"):
            if hit.attrib.get(attr):
                return clean(hit.attrib[attr])
        return shown_text(hit.root)

    out.found = True
    out.title = value("name")
    out.description = value("description")
    out.item_id = value("productID") or value("sku")
    imgs = node.xpath(".//*[@itemprop='image']")
    out.images = unique(
        photo_address(base, i.attrib.get("content") or i.attrib.get("src") or i.attrib.get("href")) for i in imgs
    )
    out.amount = as_float(value("price"))
    out.currency = value("priceCurrency") or None
    avail = prop("availability")
    out.availability = (avail.attrib.get("href", "") if avail is not None else "") or value("availability")
    out.seller = value("seller")
    return out


def _meta_contents(sel: Selector) -> dict[str, list[str]]:
    """Non-empty ``content`` of every <meta>, by its property and its name (one query, not one per key)."""
    found: dict[str, list[str]] = {}
    for node in xpath.run(sel.root, "//meta[@content][@property or @name]"):
        value = clean(node.get("content"))
        if value:
            for key in {node.get("property"), node.get("name")} - {None}:
                found.setdefault(str(key), []).append(value)
    return found


def from_opengraph(sel: Selector, base: str) -> Structured:
    metas = _meta_contents(sel)

    def meta(prop: str) -> list[str]:
        return metas.get(prop, [])

    out = Structured()
    out.title = (meta("og:title") or [""])[0]
    out.description = (meta("og:description") or [""])[0]
    out.images = unique(
        photo_address(base, u) for u in meta("og:image") + meta("og:image:url") + meta("og:image:secure_url")
    )
    amounts = meta("product:price:amount") or meta("og:price:amount")
    out.amount = as_float(amounts[0]) if amounts else None
    currencies = meta("product:price:currency") or meta("og:price:currency")
    out.currency = currencies[0] if currencies else None
    out.url = absolute(base, (meta("og:url") or [""])[0])
    og_type = (meta("og:type") or [""])[0].lower()
    out.found = "product" in og_type or out.amount is not None
    return out


def status_of(availability: str) -> str:
    a = availability.rsplit("/", 1)[-1].lower()
    if a in ("soldout", "sold"):
        return "sold"
    if a in ("discontinued", "outofstock", "ended"):
        return "ended"
    if a in (
        "instock",
        "preorder",
        "onlineonly",
        "limitedavailability",
        "instoreonly",
        "presale",
        "backorder",
    ):
        return "open"
    return "unknown"
