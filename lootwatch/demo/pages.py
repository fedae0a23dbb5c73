"""HTML of the demo auction site, in three styles a crawler meets in the wild.

- plain: server-rendered search and item pages with CSS classes (``a.lot-link``, ``h1.lot-title``...)
  and a "related lots" block of other lots' photos, a trap for a crawler that takes every image;
- jsonld: schema.org ``ItemList`` / ``Product`` JSON-LD plus OpenGraph tags, little visible HTML;
- js: the item page is an empty shell; a script fetches ``/api/lots/<id>.json`` and builds the page.

Every lot field is attacker-controlled text (sellers write it): HTML is escaped with ``html.escape``,
JSON inside ``<script>`` has ``<``, ``>`` and ``&`` escaped, and the page script only uses textContent.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

Lot = dict[str, Any]
PER_PAGE = 6
SECTIONS = {
    "plain": ("/plain/", "/plain/lot/"),
    "jsonld": ("/catalogue/", "/catalogue/item/"),
    "js": ("/live/", "/live/lot/"),
}
AVAILABILITY = {
    "open": "https://schema.org/InStock",
    "sold": "https://schema.org/SoldOut",
    "ended": "https://schema.org/Discontinued",
}


def _page(title: str, body: str, head: str = "") -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)} - Demo Auctions</title>\n{head}</head>\n<body>\n"
        '<header><a href="/">Demo Auctions</a> | <a href="/plain/">Search</a> | '
        '<a href="/catalogue/">Catalogue</a> | <a href="/live/">Live</a></header>\n'
        f"<main>\n{body}\n</main>\n"
        "<footer><p>A local demo site: every object and seller here is synthetic.</p></footer>\n"
        "</body>\n</html>\n"
    )


def script_json(data: Any) -> str:
    """JSON safe inside a <script> element: a title holding "</script>" cannot end it."""
    text = json.dumps(data, ensure_ascii=False, indent=1)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def index() -> str:
    return _page(
        "Home",
        "<h1>Demo Auctions</h1>\n<ul>\n"
        '<li><a href="/plain/">Search all lots</a></li>\n'
        '<li><a href="/catalogue/">Catalogue</a></li>\n'
        '<li><a href="/live/">Live auctions</a></li>\n</ul>',
    )


def not_found() -> str:
    return _page("Not found", "<h1>Not found</h1>\n<p>No such page.</p>")


def pages_of(lots: list[Lot]) -> int:
    return max(1, -(-len(lots) // PER_PAGE))


def _pagination(section: str, page: int, pages: int) -> str:
    links = []
    if page > 1:
        links.append(f'<a rel="prev" href="{section}?page={page - 1}">Previous</a>')
    links.append(f"<span>Page {page} of {pages}</span>")
    if page < pages:
        links.append(f'<a rel="next" href="{section}?page={page + 1}">Next</a>')
    return '<nav class="pagination">' + " ".join(links) + "</nav>"


def _results(lots: list[Lot], item_prefix: str, thumbs: bool) -> str:
    rows = []
    for lot in lots:
        thumb = (
            f'<img src="/photos/thumb/{escape(lot["photos"][0])}" alt="" width="96">'
            if thumbs and lot["photos"]
            else ""
        )
        rows.append(
            f'<li class="result">{thumb}<a class="lot-link" href="{item_prefix}{escape(lot["id"])}">'
            f'{escape(lot["title"])}</a> <span class="result-price">{escape(lot["price_text"])}</span></li>'
        )
    return '<ul class="results">\n' + "\n".join(rows) + "\n</ul>"


def search(style: str, lots: list[Lot], page: int, base_url: str) -> str:
    """Search page ``page`` (1-based) of one style's lots."""
    section, item_prefix = SECTIONS[style]
    pages = pages_of(lots)
    chunk = lots[(page - 1) * PER_PAGE : page * PER_PAGE]
    head = ""
    if style == "jsonld":
        item_list = {
            "@context": "https://schema.org",
            "@type": "ItemList",
            "numberOfItems": len(chunk),
            "itemListElement": [
                {
                    "@type": "ListItem",
                    "position": k + 1,
                    "url": f"{base_url}{item_prefix}{lot['id']}",
                    "name": lot["title"],
                }
                for k, lot in enumerate(chunk)
            ],
        }
        head = f'<script type="application/ld+json">\n{script_json(item_list)}\n</script>\n'
    title = {"plain": "Search results", "jsonld": "Catalogue", "js": "Live auctions"}[style]
    results = _results(chunk, item_prefix, thumbs=style != "jsonld")
    body = f"<h1>{title}</h1>\n{results}\n{_pagination(section, page, pages)}"
    return _page(f"{title}, page {page}", body, head)


def plain_item(lot: Lot, related: list[Lot]) -> str:
    gallery = "\n".join(
        f'<a href="/photos/{escape(f)}"><img src="/photos/thumb/{escape(f)}" alt="photo {k + 1}"></a>'
        for k, f in enumerate(lot["photos"])
    )
    others = "\n".join(
        f'<a href="/plain/lot/{escape(o["id"])}"><img src="/photos/thumb/{escape(o["photos"][0])}" '
        f'alt="{escape(o["title"])}"></a>'
        for o in related
        if o["photos"]
    )
    body = (
        f'<h1 class="lot-title">{escape(lot["title"])}</h1>\n'
        f'<p class="lot-id">Lot {escape(lot["id"])}</p>\n'
        f'<div class="lot-gallery">\n{gallery}\n</div>\n'
        f'<p>Current bid: <span class="lot-price">{escape(lot["price_text"])}</span></p>\n'
        f'<p>Seller: <span class="lot-seller">{escape(lot["seller"])}</span></p>\n'
        f'<p>Ends: <span class="lot-date">{escape(lot["end_date"])}</span></p>\n'
        f'<p>Status: <span class="lot-status">{escape(lot["status"])}</span></p>\n'
        f'<div class="lot-description">{escape(lot["description"])}</div>\n'
        f'<div class="related">\n<h2>You may also like</h2>\n{others}\n</div>'
    )
    return _page(lot["title"], body)


def _iso(end_date: str) -> str:
    # "2025-09-14 18:00 UTC" -> "2025-09-14T18:00:00Z"
    day, _, rest = end_date.partition(" ")
    hm = rest.split(" ")[0] if rest else "00:00"
    return f"{day}T{hm}:00Z"


def catalogue_item(lot: Lot, base_url: str) -> str:
    images = [f"{base_url}/photos/{f}" for f in lot["photos"]]
    url = f"{base_url}/catalogue/item/{lot['id']}"
    product = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": lot["title"],
        "description": lot["description"],
        "image": images,
        "sku": lot["id"],
        "url": url,
        "offers": {
            "@type": "Offer",
            "price": f"{float(lot['amount']):.2f}",
            "priceCurrency": lot["currency"],
            "availability": AVAILABILITY.get(lot["status"], "https://schema.org/InStock"),
            "availabilityEnds": _iso(lot["end_date"]),
            "seller": {"@type": "Organization", "name": lot["seller"]},
        },
    }
    meta = [
        ("og:type", "product"),
        ("og:title", lot["title"]),
        ("og:description", lot["description"]),
        ("og:url", url),
        *[("og:image", i) for i in images],
        ("product:price:amount", f"{float(lot['amount']):.2f}"),
        ("product:price:currency", lot["currency"]),
    ]
    head = "".join(f'<meta property="{p}" content="{escape(str(c))}">\n' for p, c in meta)
    head += f'<script type="application/ld+json">\n{script_json(product)}\n</script>\n'
    body = f"<h1>{escape(lot['title'])}</h1>\n<p>Lot {escape(lot['id'])}. Bid in our app.</p>"
    return _page(lot["title"], body, head)


_LIVE_SCRIPT = """
(async () => {
  const app = document.getElementById("app");
  const res = await fetch("/api/lots/" + encodeURIComponent(LOT_ID) + ".json");
  if (!res.ok) { app.textContent = "This lot is not available."; return; }
  const lot = await res.json();
  app.textContent = "";
  const add = (tag, cls, text) => {
    const el = document.createElement(tag);
    el.className = cls;
    if (text !== undefined) el.textContent = text;  // text only, never parsed: sellers write these fields
    app.appendChild(el);
    return el;
  };
  add("h1", "lot-title", lot.title);
  add("span", "lot-price", lot.price_text);
  add("span", "lot-seller", lot.seller);
  add("span", "lot-date", lot.end_date);
  add("div", "lot-description", lot.description);
  for (const src of lot.photos) {
    const img = add("img", "lot-photo");
    img.alt = "";
    img.src = src;
  }
})();
"""


def live_item(lot: Lot) -> str:
    # the raw HTML carries the lot id only: title, price and photo URLs arrive by script
    script = f"const LOT_ID = {script_json(lot['id'])};" + _LIVE_SCRIPT
    body = f'<div id="app"><p class="loading">Loading lot...</p></div>\n<script>{script}</script>'
    return _page(f"Lot {lot['id']}", body)


def api_lot(lot: Lot) -> str:
    data = {
        k: lot[k]
        for k in (
            "id",
            "title",
            "description",
            "price_text",
            "amount",
            "currency",
            "seller",
            "end_date",
            "status",
        )
    }
    data["photos"] = [f"/photos/{f}" for f in lot["photos"]]
    return json.dumps(data, ensure_ascii=False)
