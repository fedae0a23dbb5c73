"""Storing a crawl (spine step 3): sources, crawl runs, listings with history, page snapshots, photos.

Pages: each fetch is a page_snapshots row; the page's bytes are a WARC record appended to the
crawl's WARC file (:mod:`lootwatch.core.warc`), stored once per sha256 (a fetch of bytes stored before
points at their record).

Photos: vetted, stored once by content (sha256), linked to every listing that shows them. Only a
photo never seen before is queued for matching, after its row is committed, so a relisted
photo links the new listing and is never matched twice.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import psycopg
from lootwatch.crawlers.extract.result import PageResult
from lootwatch.crawlers.safety_text import clean_text
from rq import Queue

from lootwatch.core.db import Conn, Database, connect
from lootwatch.core.errors import BadInputError, StateError
from lootwatch.core.images import check_image
from lootwatch.core.queueing import enqueue_photos, photo_queue
from lootwatch.core.storage import BlobStore, PackFile, sha256_bytes
from lootwatch.core.warc import page_record

if TYPE_CHECKING:
    from lootwatch.core.settings import Settings

HISTORY_FIELDS = ("price_text", "status", "title")
FILE_THREADS = 4  # blobs of a batch written at once by the store's writer
_HASHED = (
    "title",
    "description",
    "price_text",
    "amount",
    "currency",
    "seller",
    "sale_date",
    "status",
    "photos",
)


@dataclass
class CrawlStats:
    site: str
    status: str = "running"
    pages: int = 0
    listings: int = 0
    listings_changed: int = 0
    listings_skipped: int = 0  # search card unchanged and page fetched recently: item page not fetched
    photos_new: int = 0
    photos_known: int = 0
    photos_rejected: int = 0
    blocked: int = 0
    refused: int = 0  # pages refused by design (robots.txt, SSRF guard, size limits, redirect loop, challenge)
    errors: int = 0
    note: str = ""
    first_refusal: str = ""  # the reason of the first page refused or failed, for the run's note
    elapsed_s: float = 0.0  # the crawl itself, from Scrapy's stats

    @property
    def photos(self) -> int:
        return self.photos_new + self.photos_known + self.photos_rejected

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_INSERT_LISTING = """INSERT INTO listings (source_id, item_id, url, claimed_canonical_url, title, description,
        price_text, amount, currency, seller, sale_date, status, content_hash)
    VALUES (%(source_id)s, %(item_id)s, %(url)s, %(claimed_canonical_url)s, %(title)s, %(description)s,
        %(price_text)s, %(amount)s, %(currency)s, %(seller)s, %(sale_date)s, %(status)s, %(hash)s)"""
_UPDATE_LISTING = """UPDATE listings SET url = %(url)s, claimed_canonical_url = %(claimed_canonical_url)s,
        title = %(title)s, description = %(description)s, price_text = %(price_text)s, amount = %(amount)s,
        currency = %(currency)s, seller = %(seller)s, sale_date = %(sale_date)s, status = %(status)s,
        content_hash = %(hash)s, last_seen = now()
    WHERE id = %(id)s"""
# a listing field the crawl had to change to store it (crawlers.safety_text): recorded with the page's URL
_INSERT_FIELD_NOTE = "INSERT INTO rejections (kind, ref, reason) VALUES ('listing_field', %s, %s)"
_INSERT_HISTORY = "INSERT INTO listing_history (listing_id, field, old_value, new_value) VALUES (%s, %s, %s, %s)"
_INSERT_SNAPSHOT = """INSERT INTO page_snapshots
        (listing_id, url, sha256, stored_path, http_status, fetched_at)
    VALUES (%s, %s, %s, %s, %s, coalesce(%s, now()))"""


@dataclass(frozen=True)
class FetchedPage:
    """One fetched item page, as the pipeline hands it to :meth:`CrawlStore.save_listings`."""

    page: PageResult
    body: bytes
    http_status: int
    fetched_at: datetime | None = None
    notes: tuple[str, ...] = ()  # fields changed to store them ("title: 1 NUL replaced with U+FFFD")


# no phash: the match worker, which decodes the photo, records it
_INSERT_PHOTO = """INSERT INTO listing_photos (sha256, source_url, stored_path, bytes, width, height)
    VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (sha256) DO NOTHING RETURNING id, sha256"""
_LINK_PHOTO = """INSERT INTO listing_photo_links (listing_id, photo_id, position) VALUES (%s, %s, %s)
    ON CONFLICT (listing_id, photo_id) DO NOTHING"""


@dataclass(frozen=True)
class FetchedPhoto:
    """One fetched listing photo, as the pipeline hands it to :meth:`CrawlStore.save_photos`."""

    item_id: str  # the site's id of the listing that shows it
    url: str
    data: bytes | None  # None: the download failed (``error`` says why)
    position: int
    error: str = ""


@dataclass(frozen=True)
class _Photo:
    listing_id: int
    url: str
    data: bytes | None
    position: int
    error: str


class _Vetted(NamedTuple):
    at: int  # index in the batch
    sha: str
    format: str
    width: int
    height: int


@dataclass(frozen=True)
class KnownPage:
    """A listing page fetched before: what a search card is compared with to skip an unchanged listing."""

    item_id: str
    price_text: str
    fetched_at: datetime


def _listing_values(page: PageResult) -> dict[str, Any]:
    """The listings row of ``page``. Its URL is the one fetched: a rel=canonical is the seller's claim,
    kept apart (it could name another site's page, or a listing the seller wants the alert to show)."""
    claimed = page.canonical_url if page.canonical_url and page.canonical_url != page.url else ""
    return {
        "url": page.url,
        "claimed_canonical_url": claimed,
        "title": page.title,
        "description": page.description,
        "price_text": page.price_text,
        "amount": page.amount,
        "currency": page.currency,
        "seller": page.seller,
        "sale_date": page.sale_date,
        "status": page.status if page.status in ("open", "sold", "ended") else "unknown",
    }


def _runs_without_repeats(fetched: list[FetchedPage]) -> Iterator[list[FetchedPage]]:
    """``fetched`` in order, cut into runs in which no listing appears twice."""
    run: list[FetchedPage] = []
    seen: set[str] = set()
    for f in fetched:
        if f.page.item_id in seen:
            yield run
            run, seen = [], set()
        run.append(f)
        seen.add(f.page.item_id)
    if run:
        yield run


def content_hash(page: PageResult) -> str:
    """Hash of the extracted fields: equal hashes mean nothing in the listing changed."""
    fields = {k: getattr(page, k) for k in _HASHED}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def open_store(settings: Settings, database_url: str, redis_url: str) -> CrawlStore:
    """A crawl's store (no connection opened yet): the crawl process and its writer process each open one."""
    return CrawlStore(
        Database(database_url),
        BlobStore(settings.store_dir),
        photo_queue(redis_url, settings.queue_name),
        max_photo_bytes=settings.max_photo_bytes,
        max_photo_pixels=settings.max_photo_pixels,
    )


class CrawlStore:
    """One crawl's writes, over ONE connection kept open for the whole crawl (a connection per page
    cost more than the page itself). Not for concurrent use: the pipeline's writer process calls it from one thread."""

    def __init__(
        self, db: Database, blobs: BlobStore, queue: Queue, *, max_photo_bytes: int, max_photo_pixels: int
    ) -> None:
        self.db, self.blobs, self.queue = db, blobs, queue
        self.max_photo_bytes, self.max_photo_pixels = max_photo_bytes, max_photo_pixels
        self._conn: Conn | None = None
        self._depth = 0  # nesting of _tx: >0 inside a transaction (savepoints below the first)
        self._after_commit: list[Callable[[], object]] = []
        # one thread at a time on the connection; re-entrant for savepoints inside a batch
        self._lock = threading.RLock()
        self._files: ThreadPoolExecutor | None = None  # a batch's blobs written side by side
        self._pages = PackFile(blobs.root, "pages", ".warc.gz")  # this crawl's WARC file, made at its first page

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        """A transaction on the crawl's connection (reopened if the server dropped it); inside
        :meth:`batch`, a savepoint, so one bad record rolls back alone.

        Rows are dicts (dict_row); typed loosely here rather than casting every row.
        """
        with self._lock:
            outermost = self._depth == 0
            if outermost and (self._conn is None or self._conn.closed or self._conn.broken):
                self._conn = connect(self.db.url)
            assert self._conn is not None
            self._depth += 1
            try:
                with self._conn.transaction():
                    yield self._conn
            except BaseException:
                if outermost:
                    self._after_commit.clear()
                raise
            finally:
                self._depth -= 1
            if outermost:
                self._run_after_commit()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Many writes in ONE transaction (one commit, one WAL flush) instead of one each, in
        pipeline mode: statements whose result is not read are sent without waiting for it."""
        with self._tx() as conn, conn.pipeline():
            yield

    def savepoint(self) -> Any:
        """A transaction, or a savepoint inside one: what fails in it rolls back alone."""
        return self._tx()

    def after_commit(self, action: Callable[[], object]) -> None:
        """Run ``action`` once the outermost transaction has committed (at once outside one)."""
        self._after_commit.append(action)
        if self._depth == 0:
            self._run_after_commit()

    def _run_after_commit(self) -> None:
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            action()

    def _put_photo_files(self, files: list[tuple[bytes, str, str]]) -> list[str]:
        """Store a batch's photos, (data, suffix, sha256) each, a few at once (their stored paths): creating
        a file is kernel work (0.3-2 ms on a busy VM) that leaves the GIL free, so the files overlap."""

        def put(file: tuple[bytes, str, str]) -> str:
            data, suffix, sha = file
            return self.blobs.put("photos", data, suffix, sha=sha)[1]

        if len(files) < 2:
            return [put(f) for f in files]
        if self._files is None:
            self._files = ThreadPoolExecutor(max_workers=FILE_THREADS, thread_name_prefix="lootwatch-blobs")
        return list(self._files.map(put, files))

    def close(self) -> None:
        self._pages.close()
        if self._files is not None:
            self._files.shutdown()
            self._files = None
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # --- sources and runs -----------------------------------------------------------------
    def source_id(self, name: str, base_url: str = "") -> int:
        with self._tx() as conn:
            row = conn.execute(
                """INSERT INTO sources (name, base_url) VALUES (%s, %s)
                   ON CONFLICT (name) DO UPDATE SET base_url = CASE WHEN EXCLUDED.base_url <> ''
                        THEN EXCLUDED.base_url ELSE sources.base_url END
                   RETURNING id""",
                (name, base_url),
            ).fetchone()
        return int(row["id"])

    def start_run(self, source_id: int, site: str) -> int:
        """A new running crawl_runs row; StateError while another run of the site is still running."""
        try:
            with self._tx() as conn:
                row = conn.execute(
                    "INSERT INTO crawl_runs (source_id) VALUES (%s) RETURNING id", (source_id,)
                ).fetchone()
        except psycopg.errors.UniqueViolation as exc:
            raise StateError(f"site {site!r} already has a crawl running; runs of one site never overlap") from exc
        return int(row["id"])

    def finish_run(self, run_id: int, stats: CrawlStats, *, failed: bool = False) -> None:
        """Close the run with its counts. A run that read no page because every one was refused (the SSRF
        guard, robots.txt) failed, and its note says why: it never reads "finished, 0 pages, 0 errors"."""
        nothing_read = stats.pages == 0 and (stats.refused or stats.errors)
        stats.status = "failed" if failed or nothing_read else "finished"
        if stats.first_refusal:
            summary = f"{stats.refused} refused, {stats.errors} failed; first: {stats.first_refusal}"
            stats.note = f"{stats.note}; {summary}" if stats.note else summary
        if nothing_read and not stats.note.startswith("nothing read"):
            stats.note = f"nothing read: {stats.note}"
        self._execute(
            """UPDATE crawl_runs SET status = %s, finished_at = now(), pages = %s, listings = %s, photos = %s,
                      errors = %s, refused = %s, note = %s WHERE id = %s""",
            (
                stats.status,
                stats.pages,
                stats.listings,
                stats.photos,
                stats.errors + stats.blocked,
                stats.refused,
                clean_text(stats.note)[:2000],
                run_id,
            ),
        )

    def _execute(self, sql: str, params: Any = None) -> None:
        with self._tx() as conn:
            conn.execute(sql, params)

    def known_hashes(self, source_id: int) -> dict[str, str]:
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT item_id, content_hash FROM listings WHERE source_id = %s", (source_id,)
            ).fetchall()
        return {r["item_id"]: r["content_hash"] for r in rows}

    def known_pages(self, source_id: int) -> dict[str, KnownPage]:
        """Listing pages of the site fetched before, by the URL they were fetched from (latest fetch)."""
        with self._tx() as conn:
            rows = conn.execute(
                """SELECT DISTINCT ON (p.url) p.url, l.item_id, l.price_text, p.fetched_at
                   FROM page_snapshots p JOIN listings l ON l.id = p.listing_id
                   WHERE l.source_id = %s ORDER BY p.url, p.fetched_at DESC""",
                (source_id,),
            ).fetchall()
        return {r["url"]: KnownPage(r["item_id"], r["price_text"], r["fetched_at"]) for r in rows}

    def mark_seen(self, source_id: int, item_ids: list[str]) -> None:
        """Listings seen unchanged on a search page (their item page was not fetched)."""
        if item_ids:
            self._execute(
                "UPDATE listings SET last_seen = now() WHERE source_id = %s AND item_id = ANY(%s)",
                (source_id, item_ids),
            )

    def listing_id(self, source_id: int, item_id: str) -> int | None:
        with self._tx() as conn:
            row = conn.execute(
                "SELECT id FROM listings WHERE source_id = %s AND item_id = %s", (source_id, item_id)
            ).fetchone()
        return int(row["id"]) if row else None

    # --- listings and pages ---------------------------------------------------------------
    def save_listing(
        self,
        source_id: int,
        page: PageResult,
        body: bytes,
        http_status: int,
        fetched_at: datetime | None = None,
        notes: tuple[str, ...] | list[str] = (),
    ) -> tuple[int, bool]:
        """:meth:`save_listings` for one page; (listing id, changed)."""
        return self.save_listings(source_id, [FetchedPage(page, body, http_status, fetched_at, tuple(notes))])[0]

    def save_listings(self, source_id: int, fetched: list[FetchedPage]) -> list[tuple[int, bool]]:
        """Upsert each page's listing, record its changed fields, keep the page; (listing id, changed) each.

        The page is evidence: its exact bytes are stored gzipped under their sha256 (never
        overwritten) and every fetch adds a page_snapshots row with the time it was fetched.
        A few statements for the lot (one per kind of write, each sent in pipeline mode), not three
        or more round trips per page; a listing fetched twice in the lot is saved in page order,
        so its history stays in order."""
        out: list[tuple[int, bool]] = []
        for run in _runs_without_repeats(fetched):
            out += self._upsert_listings(source_id, run)
        return out

    def _upsert_listings(self, source_id: int, fetched: list[FetchedPage]) -> list[tuple[int, bool]]:
        """The upsert of :meth:`save_listings`, for pages of distinct listings, in one transaction."""
        ids = [f.page.item_id for f in fetched]
        blobs = self._page_blobs(fetched)
        prepared = [
            (f, _listing_values(f.page), content_hash(f.page), blob) for f, blob in zip(fetched, blobs, strict=True)
        ]
        out: list[tuple[int, bool]] = []
        with self._tx() as conn:
            old = {
                r["item_id"]: r
                for r in conn.execute(
                    "SELECT * FROM listings WHERE source_id = %s AND item_id = ANY(%s) FOR UPDATE",
                    (source_id, ids),
                ).fetchall()
            }
            new_ids: dict[str, int] = {}
            fresh = [
                {**values, "source_id": source_id, "item_id": f.page.item_id, "hash": digest}
                for f, values, digest, _ in prepared
                if f.page.item_id not in old
            ]
            if fresh:
                cur = conn.cursor()
                cur.executemany(_INSERT_LISTING + " RETURNING id, item_id", fresh, returning=True)
                while True:
                    row = cur.fetchone()
                    if row is not None:
                        new_ids[row["item_id"]] = int(row["id"])
                    if not cur.nextset():
                        break
            history, updates, unchanged, snapshots = [], [], [], []
            for f, values, digest, (sha, rel) in prepared:
                row = old.get(f.page.item_id)
                if row is None:
                    listing_id, changed = new_ids[f.page.item_id], True
                else:
                    listing_id, changed = int(row["id"]), row["content_hash"] != digest
                    if changed:
                        history += [
                            (listing_id, field, row[field], values[field])
                            for field in HISTORY_FIELDS
                            if str(row[field]) != str(values[field])
                        ]
                        updates.append({**values, "hash": digest, "id": listing_id})
                    else:
                        unchanged.append(listing_id)
                snapshots.append((listing_id, f.page.url, sha, rel, f.http_status, f.fetched_at))
                out.append((listing_id, changed))
            cur = conn.cursor()
            if history:
                cur.executemany(_INSERT_HISTORY, history)
            if updates:
                cur.executemany(_UPDATE_LISTING, updates)
            if unchanged:
                cur.execute("UPDATE listings SET last_seen = now() WHERE id = ANY(%s)", (unchanged,))
            cur.executemany(_INSERT_SNAPSHOT, snapshots)
            notes = [(f.page.url, note) for f in fetched for note in f.notes]
            if notes:
                cur.executemany(_INSERT_FIELD_NOTE, notes)
        return out

    def _page_blobs(self, fetched: list[FetchedPage]) -> list[tuple[str, str]]:
        """(sha256, stored path) of each fetched page: bytes stored before keep their record; the rest
        are appended to this crawl's WARC file, in one write."""
        shas = [sha256_bytes(f.body) for f in fetched]
        with self._tx() as conn:
            stored = {
                r["sha256"]: r["stored_path"]
                for r in conn.execute(
                    """SELECT DISTINCT ON (sha256) sha256, stored_path FROM page_snapshots
                       WHERE sha256 = ANY(%s) ORDER BY sha256, id""",
                    (list(set(shas)),),
                ).fetchall()
            }
        new: dict[str, FetchedPage] = {}
        for sha, f in zip(shas, fetched, strict=True):
            if sha not in stored:
                new.setdefault(sha, f)
        if new:
            records = [page_record(f.page.url, f.body, f.fetched_at) for f in new.values()]
            stored.update(zip(new, self._pages.append(records), strict=True))
        return [(sha, stored[sha]) for sha in shas]

    # --- photos ---------------------------------------------------------------------------
    def save_photo(self, listing_id: int, url: str, data: bytes | None, position: int, error: str = "") -> str:
        """Store, link and (if new) queue one listing photo: returns 'new', 'known' or 'rejected'."""
        return self._save_photos([_Photo(listing_id, url, data, position, error)])[0]

    def save_photos(self, source_id: int, fetched: list[FetchedPhoto]) -> list[str]:
        """:meth:`save_photo` for many photos (outcomes in order): their listings looked up in one query,
        the photos inserted and linked in a few pipelined statements, the new ones queued together
        after the commit. StateError when a photo's listing is not stored (nothing is written then)."""
        ids = self._listing_ids(source_id, sorted({f.item_id for f in fetched}))
        missing = sorted({f.item_id for f in fetched} - ids.keys())
        if missing:
            raise StateError(f"photos arrived before their listings {', '.join(missing)}")
        return self._save_photos([_Photo(ids[f.item_id], f.url, f.data, f.position, f.error) for f in fetched])

    def _listing_ids(self, source_id: int, item_ids: list[str]) -> dict[str, int]:
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT id, item_id FROM listings WHERE source_id = %s AND item_id = ANY(%s)", (source_id, item_ids)
            ).fetchall()
        return {r["item_id"]: int(r["id"]) for r in rows}

    def _save_photos(self, photos: list[_Photo]) -> list[str]:
        """Failed downloads and refused images are recorded one by one (rare); the rest together."""
        outcomes = ["rejected"] * len(photos)
        vetted: list[_Vetted] = []
        for i, photo in enumerate(photos):
            if photo.data is None or photo.error:
                self._reject(photo.url, photo.error or "no data")
                continue
            sha = sha256_bytes(photo.data)
            try:  # header checks; the pixels are decoded only when the file does not look whole
                image = check_image(photo.data, max_bytes=self.max_photo_bytes, max_pixels=self.max_photo_pixels)
            except BadInputError as exc:
                self._refuse(photo, sha, exc)
                continue
            vetted.append(_Vetted(i, sha, image.format, image.width, image.height))
        if vetted:
            self._store_vetted(photos, vetted, outcomes)
        return outcomes

    def _refuse(self, photo: _Photo, sha: str, exc: BadInputError) -> None:
        """A photo that is no usable image: a 'rejected' row (linked, so the listing shows it) and a rejection."""
        assert photo.data is not None
        with self._tx() as conn:
            row = conn.execute(
                """INSERT INTO listing_photos (sha256, source_url, bytes, status, reason)
                   VALUES (%s, %s, %s, 'rejected', %s)
                   ON CONFLICT (sha256) DO UPDATE SET sha256 = EXCLUDED.sha256 RETURNING id""",
                (sha, clean_text(photo.url), len(photo.data), clean_text(str(exc))),
            ).fetchone()
            conn.execute(_LINK_PHOTO, (photo.listing_id, int(row["id"]), photo.position))
            conn.execute(
                "INSERT INTO rejections (kind, ref, reason) VALUES ('listing_photo', %s, %s)",
                (clean_text(photo.url), clean_text(str(exc))),
            )

    def _store_vetted(self, photos: list[_Photo], vetted: list[_Vetted], outcomes: list[str]) -> None:
        rows = self._photo_files(photos, vetted)
        with self._tx() as conn:
            new = self._insert_photos(conn, list(rows.values()))  # sha256 -> id of the rows inserted here
            ids = {**self._photo_ids(conn, [sha for sha in rows if sha not in new]), **new}
            conn.cursor().executemany(
                _LINK_PHOTO, [(photos[v.at].listing_id, ids[v.sha], photos[v.at].position) for v in vetted]
            )
        seen: set[str] = set()
        for v in vetted:
            outcomes[v.at] = "new" if v.sha in new and v.sha not in seen else "known"  # a repeat is known
            seen.add(v.sha)
        if new:  # after commit: the worker must find the rows
            queued = [(photo_id, sha) for sha, photo_id in new.items()]
            self.after_commit(lambda: enqueue_photos(self.queue, queued))

    def _photo_files(self, photos: list[_Photo], vetted: list[_Vetted]) -> dict[str, tuple[Any, ...]]:
        """Store each photo's file (before its row: a worker must find the file) and give its row values,
        by sha256; of equal photos the first is the one recorded."""
        rows: dict[str, tuple[Any, ...]] = {}
        files: list[tuple[bytes, str, str]] = []
        for v in vetted:
            photo = photos[v.at]
            if v.sha in rows or photo.data is None:
                continue
            suffix = "." + v.format.lower().replace("jpeg", "jpg").replace("mpo", "jpg")
            files.append((photo.data, suffix, v.sha))
            rows[v.sha] = (v.sha, photo.url, "", len(photo.data), v.width, v.height)
        for (sha, _), rel in zip(list(rows.items()), self._put_photo_files(files), strict=True):
            rows[sha] = (sha, rows[sha][1], rel, *rows[sha][3:])
        return rows

    @staticmethod
    def _insert_photos(conn: Any, rows: list[tuple[Any, ...]]) -> dict[str, int]:
        """Insert the photos not stored yet (pipelined); sha256 -> id of those inserted."""
        cur = conn.cursor()
        cur.executemany(_INSERT_PHOTO, rows, returning=True)
        inserted: dict[str, int] = {}
        while True:
            row = cur.fetchone()
            if row is not None:  # no row: that photo was stored before
                inserted[row["sha256"]] = int(row["id"])
            if not cur.nextset():
                return inserted

    @staticmethod
    def _photo_ids(conn: Any, shas: list[str]) -> dict[str, int]:
        if not shas:
            return {}
        rows = conn.execute("SELECT id, sha256 FROM listing_photos WHERE sha256 = ANY(%s)", (shas,)).fetchall()
        return {r["sha256"]: int(r["id"]) for r in rows}

    def relistings(self, listing_id: int) -> list[int]:
        """Other listings showing one of this listing's photos (the same bytes): the object relisted."""
        with self._tx() as conn:
            rows = conn.execute(
                """SELECT DISTINCT o.listing_id FROM listing_photo_links k
                   JOIN listing_photo_links o ON o.photo_id = k.photo_id AND o.listing_id <> k.listing_id
                   WHERE k.listing_id = %s ORDER BY o.listing_id""",
                (listing_id,),
            ).fetchall()
        return [int(r["listing_id"]) for r in rows]

    def _reject(self, ref: str, reason: str) -> None:
        self._execute(
            "INSERT INTO rejections (kind, ref, reason) VALUES ('listing_photo', %s, %s)",
            (clean_text(ref), clean_text(reason)),
        )

    def reject_page(self, url: str, reason: str) -> None:
        """A page refused or not fetched (robots.txt, SSRF guard, size limit, redirect loop, challenge ...)."""
        self._execute(
            "INSERT INTO rejections (kind, ref, reason) VALUES ('page', %s, %s)", (clean_text(url), clean_text(reason))
        )
