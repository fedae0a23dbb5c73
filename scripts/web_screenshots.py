"""Screenshots of the review app for docs/screenshots/, from a seeded demo database.

    .venv/bin/python scripts/web_screenshots.py [OUT_DIR]

Seeds an embedded PostgreSQL under a temporary folder with the synthetic demo gallery and auction
lots (lootwatch.demo.synth: drawn from a seed, no third-party photos), opens review items the way
the worker would (the best listing photo against its artefact, ORB/RANSAC evidence included), adds
what an analyst meets in the wild (a listing matching two artefacts, a rejected photo, a 48 px
photo, a long description, a bidi-override title, a script link), then drives headless Chromium
at 1400x1000 and 390x844 and writes small PNGs.
"""

from __future__ import annotations

import csv
import io
import json
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from lootwatch.alerts.rules import geometric_check
from PIL import Image
from psycopg.types.json import Jsonb

from lootwatch.core.db import Database
from lootwatch.core.services import services
from lootwatch.core.settings import Settings
from lootwatch.core.storage import BlobStore
from lootwatch.demo.synth import generate
from lootwatch.web.accounts import add_user
from lootwatch.web.app import create_app

PASSWORD = "screenshots only"
SIZES = {"desktop": (1400, 1000), "phone": (390, 844)}
CHROMIUM = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
SITES = {
    "jsonld": "https://auctions-catalogue.test",
    "js": "https://live-bids.test",
    "plain": "https://plain-sales.test",
}


def _id(db: Database, sql: str, params: tuple) -> int:
    row = db.fetchone(sql, params)
    assert row is not None
    return int(row["id"])


def seed(db: Database, store: BlobStore, demo_dir: Path) -> dict[str, int]:
    data = generate(demo_dir, n_protected=6, n_unprotected=3, gallery_views=2, listing_views=(2, 3), size=320)
    artefacts = list(csv.DictReader(data.artefacts_csv.open()))
    for a in artefacts:
        db.execute(
            "INSERT INTO artefacts (id, title, collection, description, provenance) VALUES (%s, %s, %s, %s, %s)",
            (a["artefact_id"], a["title"], a["collection"], a["description"], a["provenance"]),
        )
    gallery: dict[str, list[tuple[int, bytes]]] = {}
    for row in csv.DictReader(data.gallery_csv.open()):
        raw = (demo_dir / row["image"]).read_bytes()
        sha, rel = store.put("gallery", raw, ".png")
        w, h = Image.open(io.BytesIO(raw)).size
        gid = _id(
            db,
            """INSERT INTO artefact_photos (artefact_id, sha256, stored_path, source_name, width, height)
               VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
            (row["artefact_id"], sha, rel, Path(row["image"]).name, w, h),
        )
        gallery.setdefault(row["artefact_id"], []).append((gid, raw))
    sources = {
        style: _id(db, "INSERT INTO sources (name, base_url) VALUES (%s, %s) RETURNING id", (f"{style}-house", url))
        for style, url in SITES.items()
    }
    answers = json.loads(data.answers_json.read_text())
    lots = json.loads(data.lots_json.read_text())
    items: dict[str, int] = {}
    first_photo: dict[int, bytes] = {}  # listing id -> its first photo
    for n, lot in enumerate(lots):
        artefact = answers.get(lot["id"])
        if artefact is None and n % 3:
            continue  # most unprotected lots never alert
        listing = _id(
            db,
            """INSERT INTO listings (source_id, url, item_id, title, description, price_text, amount, currency,
                                     seller, status)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'active') RETURNING id""",
            (sources[lot["style"]], f"{SITES[lot['style']]}/lot/{lot['id']}", lot["id"], lot["title"],
             lot["description"], lot["price_text"], lot["amount"], lot["currency"], lot["seller"]),
        )  # fmt: skip
        photo_ids = []
        for k, name in enumerate(lot["photos"]):
            raw = (data.site_dir / "photos" / name).read_bytes()
            sha, rel = store.put("photos", raw, ".jpg")
            w, h = Image.open(io.BytesIO(raw)).size
            pid = _id(
                db,
                """INSERT INTO listing_photos (sha256, source_url, stored_path, bytes, width, height, status)
                   VALUES (%s, %s, %s, %s, %s, %s, 'matched') RETURNING id""",
                (sha, f"{SITES[lot['style']]}/img/{name}", rel, len(raw), w, h),
            )
            db.execute(
                "INSERT INTO listing_photo_links (listing_id, photo_id, position) VALUES (%s, %s, %s)",
                (listing, pid, k),
            )
            photo_ids.append((pid, raw))
        first_photo[listing] = photo_ids[0][1]
        targets = [artefact] if artefact else [artefacts[n % len(artefacts)]["artefact_id"]]
        if artefact and len(items) == 1:
            targets.append(next(a["artefact_id"] for a in artefacts if a["artefact_id"] != artefact))
        for rank, target in enumerate(targets, 1):
            gid, graw = gallery[target][0]
            pid, praw = photo_ids[0]
            score = (0.93 - 0.04 * len(items) - 0.1 * (rank - 1)) if artefact else 0.71
            geometry = geometric_check(praw, graw)
            match = _id(
                db,
                """INSERT INTO matches (photo_id, artefact_id, rank, score, scores, best_gallery_photo_id,
                                        model_version, index_version)
                   VALUES (%s, %s, %s, %s, %s, %s, 'pan-lite0-demo', 'idx-demo-1') RETURNING id""",
                (pid, target, rank, score, Jsonb({"descriptor": score, "classifier": round(score - 0.05, 3)}), gid),
            )
            evidence = {"passed_by": "geometry", "geometry": geometry.to_dict() | {"min_inliers": 12}}
            items[f"{lot['id']}:{target}"] = _id(
                db,
                """INSERT INTO review_items (listing_id, artefact_id, best_match_id, score, state, rule_evidence)
                   VALUES (%s, %s, %s, %s, 'new', %s) RETURNING id""",
                (listing, target, match, score, Jsonb(evidence)),
            )
    # the first true match carries what an analyst meets in the wild
    first = min(i for k, i in items.items() if answers.get(k.split(":")[0]) == k.split(":")[1])
    row = db.fetchone("SELECT listing_id FROM review_items WHERE id = %s", (first,))
    assert row is not None
    listing_id = int(row["listing_id"])
    small = io.BytesIO()
    Image.open(io.BytesIO(first_photo[listing_id])).resize((48, 48)).save(small, "JPEG")
    sha, rel = store.put("photos", small.getvalue(), ".jpg")
    tiny = _id(
        db,
        """INSERT INTO listing_photos (sha256, source_url, stored_path, bytes, width, height, status)
           VALUES (%s, 'https://plain-sales.test/img/tiny.jpg', %s, %s, 48, 48, 'matched') RETURNING id""",
        (sha, rel, len(small.getvalue())),
    )
    rejected = _id(
        db,
        """INSERT INTO listing_photos (sha256, source_url, stored_path, bytes, width, height, status, reason)
           VALUES (%s, 'https://plain-sales.test/img/huge.jpg', '', 0, NULL, NULL, 'rejected',
                   'decompression bomb: 40000x40000 pixels over the 50000000 limit') RETURNING id""",
        ("e" * 64,),
    )
    for k, pid in enumerate((tiny, rejected), 10):
        db.execute("INSERT INTO listing_photo_links (listing_id, photo_id, position) VALUES (%s, %s, %s)",
                   (listing_id, pid, k))  # fmt: skip
    long = " ".join(["Provenance: from an old European private collection, acquired in the 1970s;"] * 12)
    db.execute(
        "UPDATE listings SET title = %s, description = description || ' ' || %s WHERE id = %s",
        ("Attic red-figure amphora \u202egpj.exe\u202c with certificate", long, listing_id),
    )
    other = _id(
        db,
        """INSERT INTO listings (source_id, url, item_id, title, seller) VALUES (%s, 'javascript:alert(1)', 'x1',
           'Same photos, other house', 'relister') RETURNING id""",
        (sources["js"],),
    )
    db.execute("INSERT INTO listing_photo_links (listing_id, photo_id, position) SELECT %s, photo_id, 0 "
               "FROM listing_photo_links WHERE listing_id = %s AND position = 0", (other, listing_id))  # fmt: skip
    return first


def shoot(url: str, out: Path, first: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM)
        for label, (w, h) in SIZES.items():
            page = browser.new_page(viewport={"width": w, "height": h}, device_scale_factor=1)
            page.goto(f"{url}/login")
            page.fill("input[name=username]", "ana")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/alerts")
            page.wait_for_load_state("networkidle")
            for name, path in (
                ("queue", "/alerts"),
                ("alert", f"/alerts/{first}"),
                ("alert-enlarged", f"/alerts/{first}#zoom-listing"),
            ):
                page.goto(url + path)
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(out / f"{name}-{label}.png"))
            if label == "desktop":
                page.goto(f"{url}/alerts/{first}")
                page.locator("#strip").scroll_into_view_if_needed()
                page.screenshot(path=str(out / f"alert-evidence-{label}.png"))
            page.close()
        browser.close()


def shrink(path: Path) -> None:
    # an adaptive palette keeps text crisp and the files small enough for the repository
    img = Image.open(path).convert("RGB")
    img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(
        path, optimize=True
    )


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots").resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lootwatch-shots-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data")
        with services(settings) as urls:
            db = Database(urls.database_url)
            first = seed(db, BlobStore(settings.store_dir), Path(tmp) / "demo")
            add_user(db, "ana", PASSWORD, "analyst")
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            app = create_app(settings, db, key="screenshots", redis_url=urls.redis_url)
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            while not server.started:
                time.sleep(0.05)
            try:
                shoot(f"http://127.0.0.1:{port}", out, first)
            finally:
                server.should_exit = True
                thread.join(10)
    for path in sorted(out.glob("*.png")):
        shrink(path)
        print(f"{path}  {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
