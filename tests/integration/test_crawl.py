"""Crawl a local fixture site into the real test Postgres and Redis (and Chromium for the JS site)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lootwatch.crawlers.run import run_crawl_isolated
from lootwatch.crawlers.sites import SiteConfig
from rq import Queue
from rq.serializers import JSONSerializer

from lootwatch.core.db import Database
from lootwatch.core.queueing import redis_connection
from lootwatch.core.settings import Settings
from lootwatch.demo.site import PLAIN_SELECTORS
from tests.fixtures.crawlers import site_server as _server

build_site, serve = _server.build_site, _server.serve

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def site(tmp_path: Path):  # type: ignore[no-untyped-def]
    with serve(build_site(tmp_path / "site")) as (base, requested):
        yield base, requested


def _settings(tmp_path: Path) -> Settings:
    return Settings.model_validate({"data_dir": tmp_path / "data", "download_delay_s": 0.0})


def test_crawl_stores_listings_snapshots_photos_and_queues_new_photos(
    site: tuple[str, list[str]], db: Database, redis_url: str, tmp_path: Path
) -> None:
    base, requested = site
    sites = [
        SiteConfig("plain", [f"{base}/plain/index.html"], selectors=PLAIN_SELECTORS, allow_private=True),
        SiteConfig("jsonld", [f"{base}/catalogue/index.html"], allow_private=True),
    ]
    stats = {s.site: s for s in run_crawl_isolated(_settings(tmp_path), db.url, redis_url, sites, timeout_s=240)}

    assert stats["plain"].status == "finished" and stats["jsonld"].status == "finished"
    assert "/private/secret.html" not in requested  # robots.txt Disallow obeyed
    assert not any("thumb" in p for p in requested)  # full-size photos only
    listings = {r["item_id"]: r for r in db.fetchall("SELECT * FROM listings")}
    assert set(listings) == {"lot-101", "lot-102", "lot-103", "A-7"}
    assert listings["lot-101"]["title"] == "Bronze figure of a deity"
    assert listings["lot-101"]["price_text"] == "EUR 1,200" and float(listings["lot-101"]["amount"]) == 1200
    assert listings["lot-101"]["seller"] == "Gallery Nord"
    assert listings["A-7"]["status"] == "sold" and listings["A-7"]["seller"] == "Catalogue House"
    assert db.fetchone("SELECT count(*) AS n FROM page_snapshots")["n"] == 4  # type: ignore[index]
    runs = db.fetchall("SELECT status, pages, listings FROM crawl_runs ORDER BY id")
    assert [r["status"] for r in runs] == ["finished", "finished"]

    photos = {r["source_url"].rsplit("/", 1)[-1]: r for r in db.fetchall("SELECT * FROM listing_photos")}
    assert set(photos) == {"red.jpg", "green.png", "blue.jpg", "corrupt.jpg"}  # not the related-lot trap
    good = [p for p in photos.values() if p["status"] == "queued"]
    assert len(good) == 3 and all(Path(tmp_path / "data" / "store" / p["stored_path"]).exists() for p in good)
    corrupt = photos["corrupt.jpg"]
    assert corrupt["status"] == "rejected" and corrupt["reason"]

    # one job per new photo, id = sha256; the relisted red photo links both listings, queued once
    queue = Queue("photos", connection=redis_connection(redis_url), serializer=JSONSerializer)
    assert sorted(queue.job_ids) == sorted(p["sha256"] for p in good)
    red_links = db.fetchall(
        "SELECT l.item_id FROM listing_photo_links k JOIN listings l ON l.id = k.listing_id WHERE k.photo_id = %s",
        (photos["red.jpg"]["id"],),
    )
    assert sorted(r["item_id"] for r in red_links) == ["lot-101", "lot-102"]

    # incremental crawl: nothing changed, nothing re-fetched or re-queued
    before = len(requested)
    again = run_crawl_isolated(_settings(tmp_path), db.url, redis_url, sites[:1], timeout_s=240)[0]
    assert again.listings == 3 and again.listings_changed == 0 and again.photos == 0
    assert not any(p.startswith("/img/") for p in requested[before:])
    # lot-101 and lot-102 show their stored price on the search page: their pages are not fetched
    # again; lot-103's card shows no price, so its page is
    assert again.listings_skipped == 2
    assert "/plain/lot-101.html" not in requested[before:] and "/plain/lot-103.html" in requested[before:]
    assert len(queue.job_ids) == 3


def test_refuses_private_addresses_without_allow_private(
    site: tuple[str, list[str]], db: Database, redis_url: str, tmp_path: Path
) -> None:
    base, requested = site
    sites = [SiteConfig("plain", [f"{base}/plain/index.html"], selectors=PLAIN_SELECTORS)]
    stats = run_crawl_isolated(_settings(tmp_path), db.url, redis_url, sites, timeout_s=120)[0]
    assert requested == [] and stats.pages == 0
    assert db.fetchone("SELECT count(*) AS n FROM listings")["n"] == 0  # type: ignore[index]


def test_overlapping_run_of_one_site_is_refused(
    site: tuple[str, list[str]], db: Database, redis_url: str, tmp_path: Path
) -> None:
    base, _ = site
    db.execute("INSERT INTO sources (name) VALUES ('plain')")
    db.execute("INSERT INTO crawl_runs (source_id) SELECT id FROM sources WHERE name = 'plain'")
    sites = [SiteConfig("plain", [f"{base}/plain/index.html"], selectors=PLAIN_SELECTORS, allow_private=True)]
    stats = run_crawl_isolated(_settings(tmp_path), db.url, redis_url, sites, timeout_s=120)[0]
    assert stats.status == "skipped" and "already has a crawl running" in stats.note
    refused = db.fetchall("SELECT note FROM crawl_runs WHERE status = 'refused'")
    assert [r["note"] for r in refused] == [stats.note]  # the refusal is recorded with its reason


@pytest.mark.browser
def test_js_page_is_rendered_in_chromium(
    site: tuple[str, list[str]], db: Database, redis_url: str, tmp_path: Path
) -> None:
    base, requested = site
    selectors = {
        "result_links": "a.lot-link::attr(href)",
        "title": "h1.lot-title::text",
        "price": "span.lot-price::text",
        "photos": "img.lot-photo::attr(src)",
    }
    sites = [SiteConfig("js", [f"{base}/live/index.html"], needs_js=True, selectors=selectors, allow_private=True)]
    stats = run_crawl_isolated(_settings(tmp_path), db.url, redis_url, sites, timeout_s=240)[0]
    assert stats.status == "finished", stats
    assert "/api/lots/9.json" in requested  # the page's own script ran in the browser
    row = db.fetchone("SELECT * FROM listings WHERE item_id = '9'")
    assert row is not None and row["title"] == "Gold earring" and row["price_text"] == "GBP 2,000"
    assert stats.photos_new == 1
