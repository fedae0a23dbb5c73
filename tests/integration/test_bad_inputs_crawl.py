"""Hostile pages and photos through the real crawler: each ends with a recorded reason, nothing crashes."""

from __future__ import annotations

from pathlib import Path

import pytest
from lootwatch.crawlers.run import run_crawl_isolated
from lootwatch.crawlers.sites import SiteConfig

from lootwatch.core.db import Database
from lootwatch.core.settings import Settings
from tests.fixtures.bad_inputs.corpus import BAD_IMAGES, BAD_REASONS, LATE_BAD_IMAGES
from tests.fixtures.bad_inputs.hostile_site import GIANT_PAGE_BYTES, PUBLIC_BASE, SELECTORS, serve_proxy

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def test_hostile_site_is_crawled_and_every_bad_input_recorded(
    db: Database, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings.model_validate(
        {"data_dir": tmp_path / "data", "download_delay_s": 0.0, "max_page_bytes": GIANT_PAGE_BYTES // 2}
    )
    site = SiteConfig("hostile", [f"{PUBLIC_BASE}/index.html"], selectors=SELECTORS)  # NOT allow_private
    with serve_proxy() as (proxy, requested):
        # the spawned crawl process inherits the proxy: the public address is answered by 127.0.0.1
        monkeypatch.setenv("http_proxy", proxy)
        monkeypatch.setenv("no_proxy", "")
        stats = run_crawl_isolated(settings, db.url, redis_url, [site], timeout_s=240)[0]

    print(f"crawl stats: {stats.to_dict()}")
    assert stats.status == "finished"
    assert not any("127.0.0.1" in u or "169.254" in u for u in requested), "an SSRF redirect was followed"

    listings = {r["item_id"]: r for r in db.fetchall("SELECT * FROM listings")}
    assert {"lot-script", "lot-latin1", "lot-photos"} <= set(listings)
    # markup in a title is stored as text, never as a script
    assert "<script" not in listings["lot-script"]["title"] and "Bronze mask" in listings["lot-script"]["title"]
    # a windows-1252 page is decoded by its declared charset
    assert listings["lot-latin1"]["title"] == "Statuette dorée – époque Ming"
    # the giant page is refused at the download size limit and counted as a crawl error
    assert "lot-giant" not in listings
    run = db.fetchone("SELECT status, errors FROM crawl_runs")
    assert run is not None and run["status"] == "finished" and run["errors"] >= 1

    photos = {r["source_url"].rsplit("/", 1)[-1]: r for r in db.fetchall("SELECT * FROM listing_photos")}
    assert photos["good.jpg"]["status"] == "queued"
    for name in BAD_IMAGES:
        row = photos[name]
        assert row["status"] == "rejected" and BAD_REASONS[name] in row["reason"].lower(), (
            name,
            row["reason"],
        )
    # header and end look whole: the crawler (which does not decode) stores and queues them, and the match
    # worker rejects them with the reason (tests/integration/test_bad_inputs_worker.py)
    for name in LATE_BAD_IMAGES:
        assert photos[name]["status"] == "queued" and not photos[name]["reason"], (name, photos[name])
    rejections = {r["ref"].rsplit("/", 1)[-1]: r["reason"] for r in db.fetchall("SELECT * FROM rejections")}
    assert not set(LATE_BAD_IMAGES) & set(rejections)
    for name in ("redirect-to-private", "redirect-to-metadata"):  # photo redirects are not followed at all
        assert "302" in rejections[name], rejections
    print("rejections:", rejections)
    assert set(BAD_IMAGES) <= set(rejections)
    counts = {
        "photos_rejected": stats.photos_rejected,
        "rejections": len(rejections),
        "crawl_errors": run["errors"],
    }
    print(f"hostile inputs recorded: {counts}")
    assert stats.photos_rejected == len(BAD_IMAGES) + 2
