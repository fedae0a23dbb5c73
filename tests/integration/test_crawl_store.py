"""CrawlStore on a real Postgres and Redis: page evidence, history, relisting links, batched writes."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from lootwatch.crawlers.extract.result import ITEM, PageResult
from lootwatch.crawlers.items import ListingItem
from lootwatch.crawlers.pipelines import _store_listings
from lootwatch.crawlers.run import make_store
from lootwatch.crawlers.store import CrawlStats, CrawlStore, FetchedPage, FetchedPhoto
from PIL import Image
from warcio.archiveiterator import ArchiveIterator

from lootwatch.core.db import Database
from lootwatch.core.errors import StateError
from lootwatch.core.queueing import enqueue_photos
from lootwatch.core.settings import Settings
from lootwatch.core.storage import file_of

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def store(db: Database, redis_url: str, tmp_path: Path) -> Iterator[CrawlStore]:
    s = make_store(Settings(data_dir=tmp_path / "data"), db.url, redis_url)
    yield s
    s.close()


def _page(item_id: str, price: str = "EUR 100", status: str = "open", amount: float | None = 100.0) -> PageResult:
    return PageResult(
        url=f"https://auction.example/lot/{item_id}",
        page_type=ITEM,
        item_id=item_id,
        title=f"Lot {item_id}",
        price_text=price,
        amount=amount,
        currency="EUR",
        status=status,
    )


def _body(text: str) -> bytes:
    return f"<html><body><h1>{text}</h1></body></html>".encode()


def _jpeg(shade: int) -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGB", (64, 64), (shade, 40, 90))
    img.putpixel((3, 7), (255, 255, 255))
    img.save(buf, "JPEG")
    return buf.getvalue()


def test_every_fetch_is_kept_as_compressed_warc_evidence(db: Database, store: CrawlStore) -> None:
    sid = store.source_id("site")
    first, second = _body("price 100"), _body("price 150")
    t1 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    lid, _ = store.save_listing(sid, _page("7"), first, 200, fetched_at=t1)
    store.save_listing(sid, _page("7"), first, 200, fetched_at=t1 + timedelta(hours=6))  # same bytes again
    store.save_listing(sid, _page("7", "EUR 150", amount=150.0), second, 200, fetched_at=t1 + timedelta(days=1))

    snaps = db.fetchall("SELECT * FROM page_snapshots ORDER BY fetched_at")
    assert [s["listing_id"] for s in snaps] == [lid] * 3  # every fetch, linked to the listing
    assert [s["fetched_at"] for s in snaps] == [t1, t1 + timedelta(hours=6), t1 + timedelta(days=1)]
    assert snaps[0]["stored_path"] == snaps[1]["stored_path"] != snaps[2]["stored_path"]  # stored once by content
    for snap, body in zip(snaps, (first, first, second), strict=True):
        assert snap["sha256"] == hashlib.sha256(body).hexdigest()
        assert store.blobs.read(snap["stored_path"]) == body  # exactly the bytes fetched

    # one gzipped WARC file of the crawl, which a standard reader takes: each page a resource record
    # with its URL and fetch time
    files = {file_of(s["stored_path"]) for s in snaps}
    assert len(files) == 1 and next(iter(files)).endswith(".warc.gz")
    with open(store.blobs.path(next(iter(files))), "rb") as fh:
        records = [
            (
                r.rec_type,
                r.rec_headers.get_header("WARC-Target-URI"),
                r.rec_headers.get_header("WARC-Date"),
                r.content_stream().read(),
            )
            for r in ArchiveIterator(fh)
        ]
    assert records == [
        ("resource", "https://auction.example/lot/7", "2026-01-05T10:00:00.000000Z", first),
        ("resource", "https://auction.example/lot/7", "2026-01-06T10:00:00.000000Z", second),
    ]

    # nothing is overwritten: the first page's record keeps its bytes after the change, and the
    # snapshot rows cannot be edited or deleted (append-only in the database)
    assert store.blobs.read(snaps[0]["stored_path"]) == first
    for sql in ("UPDATE page_snapshots SET sha256 = 'x'", "DELETE FROM page_snapshots"):
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            db.execute(sql)
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        db.execute("DELETE FROM listing_history")


def test_price_and_status_changes_are_kept_as_history(db: Database, store: CrawlStore) -> None:
    sid = store.source_id("site")
    lid, changed = store.save_listing(sid, _page("9"), _body("a"), 200)
    assert changed
    assert store.save_listing(sid, _page("9"), _body("a"), 200) == (lid, False)  # nothing changed
    store.save_listing(sid, _page("9", "EUR 180", amount=180.0), _body("b"), 200)
    store.save_listing(sid, _page("9", "EUR 180", status="sold", amount=180.0), _body("c"), 200)
    history = db.fetchall("SELECT field, old_value, new_value FROM listing_history ORDER BY id")
    assert [(h["field"], h["old_value"], h["new_value"]) for h in history] == [
        ("price_text", "EUR 100", "EUR 180"),
        ("status", "open", "sold"),
    ]
    row = db.fetchone("SELECT price_text, status, amount FROM listings WHERE id = %s", (lid,))
    assert row is not None and (row["price_text"], row["status"], float(row["amount"])) == (
        "EUR 180",
        "sold",
        180,
    )


def test_same_photo_under_a_new_listing_links_the_two_listings(db: Database, store: CrawlStore) -> None:
    sid = store.source_id("site")
    old, _ = store.save_listing(sid, _page("100"), _body("old"), 200)
    new, _ = store.save_listing(sid, _page("200", "EUR 90", amount=90.0), _body("new"), 200)
    other, _ = store.save_listing(sid, _page("300"), _body("other"), 200)
    photo = _jpeg(120)
    assert store.save_photo(old, "https://img.example/a.jpg", photo, 0) == "new"
    # relisted under another URL: the same bytes are linked, not stored or matched again
    assert store.save_photo(new, "https://cdn.example/relist/a.jpg", photo, 0) == "known"
    assert store.save_photo(other, "https://img.example/b.jpg", _jpeg(30), 0) == "new"
    assert store.relistings(new) == [old] and store.relistings(old) == [new] and store.relistings(other) == []
    assert db.fetchone("SELECT count(*) AS n FROM listing_photos")["n"] == 2  # type: ignore[index]


def test_batched_listings_survive_one_bad_record(db: Database, store: CrawlStore) -> None:
    sid = store.source_id("site")
    stats = CrawlStats("site")
    items = [
        ListingItem(_page(str(i), amount=1e20 if i == 3 else 100.0), _body(str(i)), 200, True) for i in range(6)
    ]  # lot 3's amount does not fit numeric(14, 2): that row fails in the database
    with store.batch():
        _store_listings(store, sid, stats, items)
    ids = {r["item_id"] for r in db.fetchall("SELECT item_id FROM listings")}
    assert ids == {"0", "1", "2", "4", "5"} and stats.errors == 1
    assert db.fetchone("SELECT count(*) AS n FROM page_snapshots")["n"] == 5  # type: ignore[index]

    # the batched path writes the same rows and history as one listing at a time
    pages = [FetchedPage(_page(str(i), "EUR 120", amount=120.0), _body(f"v2 {i}"), 200) for i in (0, 1)]
    with store.batch():
        results = store.save_listings(sid, pages + [FetchedPage(_page("2"), _body("2"), 200)])
    assert [changed for _, changed in results] == [True, True, False]
    history = db.fetchall("SELECT field, new_value FROM listing_history")
    assert len(history) == 2 and {h["new_value"] for h in history} == {"EUR 120"}


def test_batched_photos_store_link_and_queue_like_one_at_a_time(db: Database, store: CrawlStore) -> None:
    sid = store.source_id("site")
    with store.batch():
        store.save_listings(sid, [FetchedPage(_page(i), _body(i), 200) for i in ("1", "2")])
    shared, corrupt = _jpeg(200), _jpeg(10)[:200]
    photos = [
        FetchedPhoto("1", "https://img.example/1a.jpg", shared, 0),
        FetchedPhoto("1", "https://img.example/1b.jpg", corrupt, 1),
        FetchedPhoto("2", "https://img.example/2a.jpg", shared, 0),  # the same bytes again: known
        FetchedPhoto("2", "https://img.example/2b.jpg", None, 1, "HTTP 404 fetching photo"),
    ]
    with store.batch():
        outcomes = store.save_photos(sid, photos)
    assert outcomes == ["new", "rejected", "known", "rejected"]
    rows = db.fetchall("SELECT id, sha256, status FROM listing_photos ORDER BY id")
    assert [(r["sha256"], r["status"]) for r in rows] == [
        (hashlib.sha256(corrupt).hexdigest(), "rejected"),
        (hashlib.sha256(shared).hexdigest(), "queued"),
    ]
    links = db.fetchall(
        "SELECT l.item_id, k.position FROM listing_photo_links k JOIN listings l ON l.id = k.listing_id"
    )
    assert sorted((r["item_id"], r["position"]) for r in links) == [("1", 0), ("1", 1), ("2", 0)]
    assert store.blobs.path(f"photos/{rows[1]['sha256'][:2]}/{rows[1]['sha256']}.jpg").read_bytes() == shared
    # queued once, after the commit, with the photo's id; a photo already queued is not queued again
    job = store.queue.fetch_job(rows[1]["sha256"])
    assert store.queue.job_ids == [rows[1]["sha256"]] and job is not None and job.args == [rows[1]["id"]]
    assert enqueue_photos(store.queue, [(rows[1]["id"], rows[1]["sha256"])]) == 0 and store.queue.count == 1


def test_photos_whose_listing_is_not_stored_write_nothing(db: Database, store: CrawlStore) -> None:
    sid = store.source_id("site")
    with pytest.raises(StateError, match="before their listings 9"):
        store.save_photos(sid, [FetchedPhoto("9", "https://img.example/9.jpg", _jpeg(50), 0)])
    assert db.fetchone("SELECT count(*) AS n FROM listing_photos")["n"] == 0  # type: ignore[index]
    assert store.queue.count == 0
