"""Hostile pages and photos through the real crawler: each ends with a recorded reason, nothing crashes."""

from __future__ import annotations

from pathlib import Path

import pytest
from lootwatch.crawlers.run import run_crawl_isolated
from lootwatch.crawlers.sites import SiteConfig

from lootwatch.core.db import Database
from lootwatch.core.settings import Settings
from tests.fixtures.bad_inputs.corpus import BAD_IMAGES, BAD_REASONS, LATE_BAD_IMAGES
from tests.fixtures.bad_inputs.hostile_site import (
    CLAIMED_CANONICAL,
    GIANT_PAGE_BYTES,
    HTTP_SCHEME_PHOTOS,
    PUBLIC_BASE,
    SCHEME_PHOTOS,
    SELECTORS,
    SELLER_INDEX,
    local_routes,
    serve_local,
    serve_proxy,
)

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
    # the giant page is refused at the download size limit, counted and recorded with the reason; so is the
    # page redirecting to the cloud metadata address
    assert "lot-giant" not in listings
    run = db.fetchone("SELECT status, errors, refused FROM crawl_runs")
    assert run is not None and run["status"] == "finished" and run["refused"] == 2
    pages = {r["ref"]: r["reason"] for r in db.fetchall("SELECT ref, reason FROM rejections WHERE kind = 'page'")}
    assert pages[f"{PUBLIC_BASE}/lot/lot-giant.html"].startswith("too large")
    assert pages["http://169.254.169.254/latest/meta-data/"].startswith("SSRF guard: refused")

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
    rejections = {
        r["ref"].rsplit("/", 1)[-1]: r["reason"] for r in db.fetchall("SELECT * FROM rejections WHERE kind <> 'page'")
    }
    assert not set(LATE_BAD_IMAGES) & set(rejections)
    for name in ("redirect-to-private", "redirect-to-metadata"):  # photo redirects are not followed at all
        assert "302" in rejections[name], rejections
    print("rejections:", rejections)
    assert set(BAD_IMAGES) <= set(rejections)
    counts = {
        "photos_rejected": stats.photos_rejected,
        "rejections": len(rejections),
        "crawl_errors": run["errors"],
        "pages_refused": run["refused"],
    }
    print(f"hostile inputs recorded: {counts}")
    assert stats.photos_rejected == len(BAD_IMAGES) + 2


def test_a_seller_cannot_hide_a_listing_or_steer_what_is_recorded(
    db: Database, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NUL and control characters, hostile photo schemes, a claimed canonical and every page-level refusal
    (robots.txt, redirect loop, gzip bomb, too large, SSRF redirect): each listing is stored, each refusal
    recorded with its reason."""
    settings = Settings.model_validate(
        {"data_dir": tmp_path / "data", "download_delay_s": 0.0, "max_page_bytes": GIANT_PAGE_BYTES // 2}
    )
    # generic extraction (JSON-LD, rel=canonical) of the lots the index links to
    site = SiteConfig("seller", [f"{PUBLIC_BASE}{SELLER_INDEX}"], selectors={"result_links": "a.lot-link::attr(href)"})
    seller = SiteConfig("seller-selectors", [f"{PUBLIC_BASE}/seller/lot-schemes.html"], selectors=SELECTORS)
    with serve_proxy() as (proxy, requested):
        monkeypatch.setenv("http_proxy", proxy)
        monkeypatch.setenv("no_proxy", "")
        stats = {s.site: s for s in run_crawl_isolated(settings, db.url, redis_url, [site, seller], timeout_s=240)}
    print({k: v.to_dict() for k, v in stats.items()})
    assert not any("/seller/private/" in u for u in requested)  # robots.txt obeyed
    assert not any("169.254" in u for u in requested)
    listings = {r["item_id"]: r for r in db.fetchall("SELECT * FROM listings")}

    # 1. NUL, a lone surrogate and an ESC in JSON-LD: the listing, its snapshot and photos are stored
    nul = listings["lot-nul"]
    assert nul["title"] == "Bronze\ufffdhead \ufffd\ufffd[2J" and nul["seller"] == "Deal\ufffder"
    assert nul["description"] == "Provenance:\ufffd private collection"
    assert db.fetchone("SELECT count(*) AS n FROM page_snapshots WHERE listing_id = %s", (nul["id"],))["n"] == 1  # type: ignore[index]
    nul_photos = db.fetchall(
        "SELECT p.status FROM listing_photo_links k JOIN listing_photos p ON p.id = k.photo_id WHERE k.listing_id = %s",
        (nul["id"],),
    )
    assert [p["status"] for p in nul_photos] == ["queued", "queued"]
    notes = sorted(
        r["reason"]
        for r in db.fetchall("SELECT reason FROM rejections WHERE kind = 'listing_field' AND ref LIKE '%lot-nul%'")
    )
    assert notes == [
        "description: 1 NUL replaced with U+FFFD",
        "seller: 1 NUL replaced with U+FFFD",
        "title: 1 NUL, 1 control character, 1 lone surrogate replaced with U+FFFD",
    ]

    # 2. hostile photo schemes (any case) are refused one by one, with the reason; every http photo is kept
    schemes = listings["lot-schemes"]
    kept = db.fetchall(
        """SELECT p.source_url FROM listing_photo_links k JOIN listing_photos p ON p.id = k.photo_id
           WHERE k.listing_id = %s ORDER BY k.position""",
        (schemes["id"],),
    )
    assert [r["source_url"].removeprefix(PUBLIC_BASE) for r in kept] == HTTP_SCHEME_PHOTOS
    refused = {
        r["ref"]: r["reason"] for r in db.fetchall("SELECT ref, reason FROM rejections WHERE kind = 'listing_photo'")
    }
    hostile = [p for p in SCHEME_PHOTOS if not p.startswith("/")]
    assert set(hostile) <= set(refused), refused
    for url in hostile:
        scheme = url.split(":", 1)[0].lower()
        assert f"refused: {scheme} scheme" in refused[url], (url, refused[url])

    # 3. the listing's URL is the one fetched; the canonical it claims is kept apart as the seller's claim
    canonical = listings["lot-canonical"]
    assert canonical["url"] == f"{PUBLIC_BASE}/seller/lot-canonical.html"
    assert canonical["claimed_canonical_url"] == CLAIMED_CANONICAL
    assert nul["claimed_canonical_url"] == ""
    # a page naming another listing's id (rel=canonical and sku) is stored under its own URL's id and never
    # overwrites that listing's record
    impostor = listings["lot-impostor"]
    assert impostor["title"] == "Impostor" and impostor["url"] == f"{PUBLIC_BASE}/seller/lot-impostor.html"
    assert impostor["claimed_canonical_url"] == f"{PUBLIC_BASE}/seller/lot-nul.html"
    assert nul["url"] == f"{PUBLIC_BASE}/seller/lot-nul.html" and nul["title"].startswith("Bronze")

    # 5. every page-level refusal is recorded with its reason, and counted on the run
    pages = {
        r["ref"].removeprefix(PUBLIC_BASE): r["reason"]
        for r in db.fetchall("SELECT ref, reason FROM rejections WHERE kind = 'page'")
    }
    print("page refusals:", pages)
    assert pages["/seller/private/lot-hidden.html"] == "robots.txt disallows it"
    assert any(u.startswith("/seller/loop/") and v.startswith("redirect loop") for u, v in pages.items()), pages
    assert pages["/seller/bomb.html"].startswith("too large when decompressed (compression bomb)")
    assert pages["/lot/lot-giant.html"].startswith("too large")
    ssrf = [v for u, v in pages.items() if "169.254.169.254" in u]
    assert ssrf and ssrf[0].startswith("SSRF guard: refused") and "internal address" in ssrf[0]
    run = db.fetchone(
        """SELECT r.status, r.refused, r.note FROM crawl_runs r JOIN sources s ON s.id = r.source_id
           WHERE s.name = 'seller'"""
    )
    assert run is not None and run["status"] == "finished" and run["refused"] == 5 == stats["seller"].refused
    assert "5 refused" in run["note"]


def test_allow_private_reaches_only_the_configured_host_and_every_refusal_shows_in_status(
    db: Database, redis_url: str, tmp_path: Path
) -> None:
    """A local site (allow_private) that redirects and links photos to another private host:port, and
    shows a bot challenge; a site without allow_private on 127.0.0.1, refused whole by the SSRF guard."""
    from lootwatch.cli.status import collect, render

    settings = Settings.model_validate({"data_dir": tmp_path / "data", "download_delay_s": 0.0})
    with serve_local({}) as (elsewhere, bystander), serve_local(local_routes(elsewhere)) as (base, _):
        local = SiteConfig(
            "local",
            [f"{base}/local/index.html"],
            selectors={**SELECTORS, "result_links": "a.lot-link::attr(href)"},
            allow_private=True,
        )
        internal = SiteConfig("internal", [f"{base}/local/index.html"])  # NOT allow_private
        stats = {s.site: s for s in run_crawl_isolated(settings, db.url, redis_url, [local, internal], timeout_s=240)}
    print({k: v.to_dict() for k, v in stats.items()})
    assert bystander == [], "allow_private let the crawler reach another private host:port"

    pages = {r["ref"]: r["reason"] for r in db.fetchall("SELECT ref, reason FROM rejections WHERE kind = 'page'")}
    print("page refusals:", pages)
    assert pages[f"{elsewhere}/admin.html"].startswith("SSRF guard: refused")
    challenge = pages[f"{base}/local/challenge.html"]
    assert challenge == "bot challenge: 'Please verify' in title/heading (gave up after 2 retries)"
    photo = db.fetchone(
        "SELECT reason FROM rejections WHERE kind = 'listing_photo' AND ref = %s", (f"{elsewhere}/img/secret.jpg",)
    )
    assert photo is not None and "SSRF guard: refused" in photo["reason"]
    kept = db.fetchall("SELECT source_url FROM listing_photos")
    assert [r["source_url"] for r in kept] == [f"{base}/img/l0.jpg"]

    runs = {
        r["name"]: r for r in db.fetchall("SELECT s.name, r.* FROM crawl_runs r JOIN sources s ON s.id = r.source_id")
    }
    assert runs["local"]["status"] == "finished" and runs["local"]["refused"] == 2
    # the site refused whole never reads "finished, 0 pages, 0 errors"
    internal_run = runs["internal"]
    assert internal_run["status"] == "failed" and internal_run["pages"] == 0 and internal_run["refused"] == 1
    assert internal_run["note"].startswith("nothing read: ") and "SSRF guard: refused" in internal_run["note"]
    assert pages[f"{base}/local/index.html"].startswith("SSRF guard: refused")

    shown = render(collect(settings, db, redis_url))
    print(shown)
    line = next(x for x in shown.splitlines() if x.strip().startswith("internal"))
    assert "failed" in line and "pages 0" in line and "refused 1" in line
    assert "nothing read: 1 refused, 0 failed; first: SSRF guard: refused" in shown
    assert "rejections (24 h): listing_photo 1, page 3; pages refused or failed: SSRF guard 2, bot challenge 1" in shown
