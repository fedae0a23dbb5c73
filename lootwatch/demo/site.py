"""The demo auction site: a threaded HTTP server on localhost over ``site/lots.json`` and its photos.

``serve(site_dir)`` starts it in a daemon thread and returns a :class:`DemoSite` (``.url``,
``.close()``, usable as a context manager). Routes (see :mod:`lootwatch.demo.pages` for the HTML)::

    /robots.txt                              crawl rules (Disallow: /private/)
    /plain/?page=N       /plain/lot/<id>     server-rendered pages with CSS classes
    /catalogue/?page=N   /catalogue/item/<id>   schema.org JSON-LD + OpenGraph
    /live/?page=N        /live/lot/<id>      item built by JavaScript from /api/lots/<id>.json
    /photos/<f>.jpg      /photos/thumb/<f>.jpg

A lot is served only under its own style. Anything else, including directory paths and
traversal attempts, is a 404; the answer key never lives under ``site_dir``.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lootwatch.core.errors import BadInputError
from lootwatch.demo import pages

# The markup contract of the demo site's plain-HTML and JavaScript styles, as CSS selectors for the
# crawler's generic adapter (the JSON-LD style needs none). `lootwatch demo` writes them into its sites
# file; crawler tests and the crawl benchmark serve pages of the same shape.
PLAIN_SELECTORS: dict[str, str] = {
    "result_links": "a.lot-link::attr(href)",
    "next_page": "a[rel=next]::attr(href)",
    "title": "h1.lot-title::text",
    "description": "div.lot-description",
    "price": "span.lot-price::text",
    "seller": "span.lot-seller::text",
    "date": "span.lot-date::text",
    "photos": "div.lot-gallery a::attr(href)",  # the full-size link; the <img> inside is a thumbnail
}
JS_SELECTORS: dict[str, str] = {
    "result_links": "a.lot-link::attr(href)",
    "next_page": "a[rel=next]::attr(href)",
    "title": "h1.lot-title::text",
    "price": "span.lot-price::text",
    "seller": "span.lot-seller::text",
    "photos": "img.lot-photo::attr(src)",
}

ROBOTS = "User-agent: *\nCrawl-delay: 0\nDisallow: /private/\n"
LOT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
PHOTO = re.compile(r"/photos/(thumb/)?([A-Za-z0-9][A-Za-z0-9_-]*\.jpg)")
ROUTES = {
    "plain": re.compile(r"/plain/lot/([^/]+)"),
    "jsonld": re.compile(r"/catalogue/item/([^/]+)"),
    "js": re.compile(r"/live/lot/([^/]+)"),
}
SEARCH = {"/plain/": "plain", "/catalogue/": "jsonld", "/live/": "js"}
API = re.compile(r"/api/lots/([^/]+)\.json")


def load_lots(site_dir: Path) -> list[pages.Lot]:
    path = site_dir / "lots.json"
    if not path.is_file():
        raise BadInputError(f"{path} does not exist: generate the demo data first")
    lots = json.loads(path.read_text(encoding="utf-8"))
    for lot in lots:
        if not LOT_ID.fullmatch(str(lot.get("id", ""))):
            raise BadInputError(f"{path}: lot id {lot.get('id')!r} is not [A-Za-z0-9_-]")
        if lot.get("style") not in pages.SECTIONS:
            raise BadInputError(f"{path}: lot {lot['id']} has unknown style {lot.get('style')!r}")
    return lots


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    base_url: str
    photos_dir: Path
    by_style: dict[str, list[pages.Lot]]
    by_id: dict[str, pages.Lot]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "DemoAuctions/1.0"
    sys_version = ""

    def do_GET(self) -> None:
        self._respond(head_only=False)

    def do_HEAD(self) -> None:
        self._respond(head_only=True)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: tests and the demo read stdout
        pass

    def _respond(self, head_only: bool) -> None:
        status, ctype, body = self._route()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "max-age=3600" if ctype == "image/jpeg" else "no-cache")
        self.end_headers()
        if not head_only:
            self.wfile.write(body)

    def _route(self) -> tuple[int, str, bytes]:
        html = "text/html; charset=utf-8"
        parts = urlsplit(self.path)
        path, srv = parts.path, self.server
        if path == "/robots.txt":
            return 200, "text/plain; charset=utf-8", ROBOTS.encode()
        if path == "/":
            return 200, html, pages.index().encode()
        if path in SEARCH or path + "/" in SEARCH:
            style = SEARCH[path if path in SEARCH else path + "/"]
            lots = srv.by_style[style]
            page = _page_number(parts.query)
            if page is None or page > pages.pages_of(lots):
                return 404, html, pages.not_found().encode()
            return 200, html, pages.search(style, lots, page, srv.base_url).encode()
        for style, route in ROUTES.items():
            m = route.fullmatch(path)
            if m:
                lot = srv.by_id.get(m.group(1))
                if lot is None or lot["style"] != style:
                    return 404, html, pages.not_found().encode()
                if style == "plain":
                    return 200, html, pages.plain_item(lot, _related(lot, srv.by_style["plain"])).encode()
                if style == "jsonld":
                    return 200, html, pages.catalogue_item(lot, srv.base_url).encode()
                return 200, html, pages.live_item(lot).encode()
        m = API.fullmatch(path)
        if m:
            lot = srv.by_id.get(m.group(1))
            if lot is None or lot["style"] != "js":
                return 404, "application/json", b'{"error": "not found"}'
            return 200, "application/json; charset=utf-8", pages.api_lot(lot).encode()
        m = PHOTO.fullmatch(path)
        if m:
            data = _photo(srv.photos_dir, m.group(1) is not None, m.group(2))
            if data is not None:
                return 200, "image/jpeg", data
        return 404, html, pages.not_found().encode()


def _page_number(query: str) -> int | None:
    values = parse_qs(query).get("page", ["1"])
    try:
        page = int(values[0])
    except ValueError:
        return None
    return page if page >= 1 else None


def _related(lot: pages.Lot, same_style: list[pages.Lot], n: int = 4) -> list[pages.Lot]:
    others = [o for o in same_style if o["id"] != lot["id"]]
    start = same_style.index(lot) if lot in same_style else 0
    return (others[start:] + others[:start])[:n]


def _photo(photos_dir: Path, thumb: bool, name: str) -> bytes | None:
    # the name pattern already excludes "/" and "..": resolving is a second lock on the same door
    folder = (photos_dir / "thumb") if thumb else photos_dir
    path = (folder / name).resolve()
    if path.parent != folder.resolve() or not path.is_file():
        return None
    return path.read_bytes()


class DemoSite:
    """A running demo site; ``close()`` (or leaving the ``with`` block) stops it."""

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server, self._thread = server, thread
        self.url = server.base_url

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> DemoSite:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def serve(site_dir: Path, host: str = "127.0.0.1", port: int = 0) -> DemoSite:
    site_dir = Path(site_dir)
    lots = load_lots(site_dir)
    server = _Server((host, port), _Handler)
    server.base_url = f"http://{host}:{server.server_address[1]}"
    server.photos_dir = site_dir / "photos"
    server.by_id = {lot["id"]: lot for lot in lots}
    server.by_style = {
        style: sorted((lot for lot in lots if lot["style"] == style), key=lambda x: x["id"]) for style in pages.SECTIONS
    }
    thread = threading.Thread(target=server.serve_forever, name="demo-site", daemon=True)
    thread.start()
    return DemoSite(server, thread)
