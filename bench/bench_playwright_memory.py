"""Memory of a long JavaScript crawl: process-tree RSS (Python + Chromium) rendering ~1,000 pages.

The demo site (``lootwatch.demo.site``) serves ``--lots`` lots in its "live" style: every search
and item page is built by the page's own script, so each one is rendered in Chromium through
scrapy-playwright by the real ListingSpider (store pipeline, PostgreSQL, Redis included). A
sampler reads the RSS of the crawl process and every process below it (Chromium's browser,
renderer, GPU and utility processes) every 0.5 s.

    PYTHONPATH=. .venv/bin/python bench/bench_playwright_memory.py [--lots 1000] [--limit-mb 1500]

RSS summed over processes counts memory they share more than once: an upper bound. PSS (each
shared page split between its users) is printed beside it. Pages are closed by scrapy-playwright
once their response is built; contexts are bounded (PLAYWRIGHT_MAX_CONTEXTS,
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT in crawlers/settings.py).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_crawl import services  # noqa: E402


def write_site(site_dir: Path, lots: int) -> None:
    """A demo site of ``lots`` JavaScript ("live") lots; they share one photo (stored once)."""
    (site_dir / "photos" / "thumb").mkdir(parents=True)
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (150, 90, 40)).save(buf, "JPEG")
    (site_dir / "photos" / "p.jpg").write_bytes(buf.getvalue())
    (site_dir / "photos" / "thumb" / "p.jpg").write_bytes(buf.getvalue())
    rows = [
        {
            "id": f"L{i:05d}",
            "style": "js",
            "title": f"Bronze fibula no. {i}",
            "description": "Cast bronze brooch, pin missing. " * 8,
            "price_text": f"EUR {100 + i}",
            "amount": 100 + i,
            "currency": "EUR",
            "seller": f"Dealer {i % 13}",
            "end_date": "2031-06-01",
            "status": "open",
            "photos": ["p.jpg"],
        }
        for i in range(lots)
    ]
    (site_dir / "lots.json").write_text(json.dumps(rows), encoding="utf-8")


def tree_memory(root: psutil.Process) -> tuple[int, int, int]:
    """(RSS sum, PSS sum, number of Chromium processes) of the processes below ``root``."""
    rss = pss = n = 0
    for p in root.children(recursive=True):
        try:
            info = p.memory_full_info()
            n += "chrom" in p.name().lower()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return rss, pss, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lots", type=int, default=1000)
    ap.add_argument("--limit-mb", type=float, default=1500.0)
    ap.add_argument("--database-url")
    ap.add_argument("--redis-url")
    args = ap.parse_args()

    from lootwatch.crawlers.run import run_crawl_isolated
    from lootwatch.crawlers.sites import SiteConfig

    from lootwatch.core.db import Database
    from lootwatch.core.settings import Settings
    from lootwatch.demo.pages import PER_PAGE
    from lootwatch.demo.site import serve

    mb = 1024 * 1024
    with (
        tempfile.TemporaryDirectory() as tmp,
        services(args.database_url, args.redis_url) as (db_url, redis_url),
    ):
        write_site(Path(tmp) / "site", args.lots)
        settings = Settings.model_validate({"data_dir": Path(tmp) / "data", "download_delay_s": 0.0})
        with serve(Path(tmp) / "site") as site:
            config = SiteConfig(
                "demo-js",
                [f"{site.url}/live/?page=1"],
                needs_js=True,
                allow_private=True,
                max_pages=10_000,
                download_delay=0.0,
                concurrency=8,
                selectors={
                    "result_links": "a.lot-link::attr(href)",
                    "next_page": "a[rel=next]::attr(href)",
                    "title": "h1.lot-title::text",
                    "price": "span.lot-price::text",
                    "photos": "img.lot-photo::attr(src)",
                },
            )
            result: dict[str, object] = {}

            def crawl() -> None:
                try:
                    result["stats"] = run_crawl_isolated(settings, db_url, redis_url, [config], timeout_s=3600)[0]
                except Exception as exc:  # reported below
                    result["error"] = exc

            worker = threading.Thread(target=crawl)
            t0 = time.monotonic()
            worker.start()
            me = psutil.Process(os.getpid())
            samples: list[tuple[float, int, int, int]] = []
            while worker.is_alive():
                rss, pss, n = tree_memory(me)
                if rss:
                    samples.append((time.monotonic() - t0, rss, pss, n))
                    if len(samples) % 20 == 0:
                        print(
                            f"  {samples[-1][0]:6.0f}s  RSS {rss / mb:7.0f} MB  "
                            f"PSS {pss / mb:7.0f} MB  {n} Chromium processes"
                        )
                worker.join(0.5)
        if "error" in result:
            raise SystemExit(f"crawl failed: {result['error']}")
        stats = result["stats"]
        db = Database(db_url)
        listings = db.fetchone("SELECT count(*) AS n FROM listings")["n"]  # type: ignore[index]

    # the last sample of the crawl itself, before Chromium starts shutting its processes down
    usual = sorted(s[3] for s in samples)[len(samples) // 2]
    with_browser = [s for s in samples if s[3] >= usual]
    peak = max(samples, key=lambda s: s[2])
    final = with_browser[-1] if with_browser else samples[-1]
    pages = stats.pages  # type: ignore[attr-defined]
    print(
        f"rendered {pages} pages in Chromium ({args.lots} lots + {-(-args.lots // PER_PAGE)} search pages), "
        f"{listings} listings stored, in {time.monotonic() - t0:.0f}s"
    )
    print(
        f"peak  RSS {peak[1] / mb:.0f} MB (PSS {peak[2] / mb:.0f} MB, {peak[3]} Chromium processes) at {peak[0]:.0f}s"
    )
    print(
        f"final RSS {final[1] / mb:.0f} MB (PSS {final[2] / mb:.0f} MB, {final[3]} Chromium processes) "
        f"at {final[0]:.0f}s"
    )
    # PSS: the tree's resident memory with each shared page counted once (RSS sums count the
    # pages Chromium's processes share once per process)
    verdict = "OK" if peak[2] / mb < args.limit_mb else "OVER"
    print(f"limit {args.limit_mb:.0f} MB on peak PSS: {verdict}")
    if verdict != "OK":
        raise SystemExit(1)


if __name__ == "__main__":
    main()
