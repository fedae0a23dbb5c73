"""The store pipeline: listings and photos into Postgres, the blob store and the photo queue."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import pickle
import socket
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lootwatch.crawlers.framing import FrameProtocol, FrameReader, Timeout, send, socket_pair
from lootwatch.crawlers.heap import settle_heap
from lootwatch.crawlers.items import ListingItem, PhotoItem, RefusedPage, SeenItem
from lootwatch.crawlers.store import CrawlStats, CrawlStore, FetchedPage, FetchedPhoto, open_store

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from lootwatch.core.settings import Settings

log = logging.getLogger(__name__)
MAX_BATCH = 200  # items written in one transaction at most
LINGER_S = 0.05  # how long a batch waits for more items: fewer commits, each item 50 ms later at most
WRITER_COUNTERS = ("photos_new", "photos_known", "photos_rejected", "errors")  # what the writer counts
StoreArgs = tuple["Settings", str, str]  # what the writer opens its own store with: settings, database, redis
READY = "ready"  # the writer's first answer: its store is open and it takes items
# items sent to the writer and not yet committed: above this many bytes the crawl pauses taking new
# requests (downloads under way go on) until half of them are committed
MAX_UNANSWERED_BYTES = 32 << 20


class StorePipeline:
    """Writes from ONE writer process, in batches: pages are parsed while the database works, and the
    items waiting when the writer is free share one transaction (a commit per page, with its WAL
    flush, cost more than the page itself).

    A process, not a thread: the writes (psycopg, RQ, file creation) are Python and system calls, and
    a writer thread held the GIL that the reactor needs back after every socket read, so each write
    slowed the crawl beyond its own cost. Items travel pickled, framed on a Unix socket that the
    reactor writes and reads itself (:mod:`crawlers.framing`: no thread in the crawl process); the
    writer answers with how many items it has committed, in order, and what it counted (new, known,
    rejected photos, errors), which is added to the crawl's stats on the reactor.

    One writer keeps the writes in the order items arrive, so a listing row is always written
    before the photos that a later response brings for it. The spider hands its items to
    :meth:`submit` (its ``store_sink``), not through Scrapy's item path: that path (a task per
    item, its pipeline chain, an item_scraped signal of several tasks) cost more than the item's
    own work. Back pressure instead of an await per item: the engine is paused while too many
    bytes wait for the writer. ``process_item`` still stores an item that reaches Scrapy's path.
    The crawl's store and source id are spider attributes (settings are deep-copied; a store is
    not); the spider's ``store_args`` open the writer's own store.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.answers: _Answers | None = None
        self.link: FrameProtocol | None = None  # the crawl's end of the writer's socket
        self.writer: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    async def open_spider(self) -> None:
        """Start the writer and wait until it can take items: its start-up (a fresh interpreter importing
        psycopg, RQ, PIL) took a core for a second or more, which the crawl's first responses waited
        behind. Awaited on the reactor, so the other sites' crawls of the process go on meanwhile."""
        spider: Any = self.crawler.spider
        ours, theirs = socket_pair()
        ctx = multiprocessing.get_context("spawn")  # never fork a process running a reactor and threads
        self.writer = ctx.Process(
            target=write_process,
            args=(spider.store_args, spider.source_id, theirs),
            name=f"lootwatch-store-{spider.site.name}",
            daemon=True,
        )
        self.writer.start()
        theirs.close()  # the writer holds its end: its exit (or death) is the end of our stream
        self.answers = answers = _Answers(spider.crawl_stats, on_backlog=self._backlog)
        self.link = link = link_to(answers)
        await asyncio.get_running_loop().create_unix_connection(lambda: link, sock=ours)
        await answers.ready
        spider.store_sink = self.submit

    def submit(self, item: Any) -> asyncio.Future[None]:
        """Send ``item`` to the writer; the future is done once it is committed (or counted as an error)."""
        assert self.answers is not None and self.link is not None  # opened
        payload = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)  # one that cannot be is refused here
        done = self.answers.expect(len(payload))
        if not done.done():  # the writer is still there
            self.link.send(payload)  # buffered by the transport: never blocks the reactor
        return done

    async def process_item(self, item: Any) -> Any:
        await self.submit(item)
        return item

    def _backlog(self, full: bool) -> None:
        """Pause the engine while the writer is behind (a slow disk or database); resume once it caught up."""
        engine = self.crawler.engine
        if engine is None:
            return
        if full:
            log.info("the store writer is behind: new requests wait")
            engine.pause()
            return
        engine.unpause()
        slot = getattr(engine, "_slot", None)  # a paused engine's loop does nothing until it is next called
        if slot is not None:
            slot.nextcall.schedule()

    async def close_spider(self) -> None:
        """Wait until the writer has committed every item and ended: its last answers add to the crawl's stats."""
        if self.writer is not None:
            assert self.answers is not None and self.link is not None
            if not self.answers.ended.done():
                self.link.finish()  # the end of our stream: the writer commits what it has, answers, exits
            await self.answers.ended
            self.writer.join()
        store: CrawlStore | None = getattr(self.crawler.spider, "store", None)
        if store is not None:
            store.close()


class _Answers:
    """The items sent to the writer and not yet answered, in order; used on the reactor only."""

    def __init__(self, stats: CrawlStats, on_backlog: Callable[[bool], None] | None = None) -> None:
        self.stats = stats
        self.waiting: deque[tuple[asyncio.Future[None], int]] = deque()  # with each item's size
        self.waiting_bytes = 0
        self.on_backlog = on_backlog  # called with True when too many bytes wait, False once half are written
        self.backlogged = False
        self.writer_gone = False
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[None] = loop.create_future()  # done once it answered
        self.ended: asyncio.Future[None] = loop.create_future()  # done once it ended (nothing waits then)

    def expect(self, size: int = 0) -> asyncio.Future[None]:
        """The future of the next item sent, of ``size`` bytes (already done, and counted as an error,
        once the writer is gone)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.writer_gone:
            self.stats.errors += 1
            log.error("the store writer is gone: an item was not stored")
            done.set_result(None)
            return done
        self.waiting.append((done, size))
        self.waiting_bytes += size
        if not self.backlogged and self.waiting_bytes > MAX_UNANSWERED_BYTES:
            self._set_backlog(True)
        return done

    def _set_backlog(self, full: bool) -> None:
        self.backlogged = full
        if self.on_backlog is not None:
            self.on_backlog(full)

    def answered(self, answer: tuple[int, dict[str, int]] | str | None) -> None:
        """``answer``: READY, (items committed, what the writer counted), or None once the writer has ended;
        anything still waiting then was never written, and is counted as errors."""
        if not self.ready.done():
            self.ready.set_result(None)  # a writer that died starting is "ready" too: items then count as errors
        if answer == READY:
            return
        if answer is None:
            self.writer_gone = True
            if not self.ended.done():
                self.ended.set_result(None)
            n, counts = len(self.waiting), {"errors": len(self.waiting)}
            if n:
                log.error("the store writer ended with %d items unwritten", n)
        else:
            assert not isinstance(answer, str)
            n, counts = answer
        for key, value in counts.items():
            setattr(self.stats, key, getattr(self.stats, key) + value)
        for _ in range(min(n, len(self.waiting))):
            done, size = self.waiting.popleft()
            self.waiting_bytes -= size
            if not done.done():  # cancelled when the crawl was stopped meanwhile
                done.set_result(None)
        if self.backlogged and (self.writer_gone or self.waiting_bytes <= MAX_UNANSWERED_BYTES // 2):
            self._set_backlog(False)


def link_to(answers: _Answers) -> FrameProtocol:
    """The crawl's end of the writer's socket: each frame in is an answer; its end, the writer's end."""
    return FrameProtocol(lambda payload: answers.answered(pickle.loads(payload)), lambda: answers.answered(None))


def write_process(store_args: StoreArgs, source_id: int, sock: socket.socket) -> None:
    """The writer process: batches of items written in one transaction each; after each, an answer.
    It ends at the end of the crawl's stream (the crawl finished, or its process died); closing its
    socket, by exiting or dying, tells the crawl it has ended."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with sock:
        store = open_store(*store_args)
        try:
            settle_heap()
            send(sock, pickle.dumps(READY))
            _write_loop(FrameReader(sock), sock, store, source_id)
        finally:
            store.close()


def _write_loop(inbox: FrameReader, sock: socket.socket, store: CrawlStore, source_id: int) -> None:
    stats = CrawlStats("writer")  # what this process counted; sent as the change per batch
    stop = False
    while not stop:
        first = inbox.next(None)
        if first is None:
            return
        batch = [first]
        deadline = time.monotonic() + LINGER_S
        while len(batch) < MAX_BATCH:  # what arrives meanwhile joins this transaction
            try:
                nxt = inbox.next(max(deadline - time.monotonic(), 0.0))
            except Timeout:
                break
            if nxt is None:
                stop = True
                break
            batch.append(nxt)
        before = {key: getattr(stats, key) for key in WRITER_COUNTERS}
        items = []
        for payload in batch:
            try:
                items.append(pickle.loads(payload))
            except Exception:  # counted, and still answered: the crawl waits for every item it sent
                stats.errors += 1
                log.exception("an item could not be read")
        try:
            with store.batch():
                _store_batch(store, source_id, stats, items)
        except Exception:  # the commit itself failed: every record of the batch is lost
            stats.errors += len(items)
            log.exception("storing a batch of %d records failed", len(items))
        changed = {key: getattr(stats, key) - before[key] for key in WRITER_COUNTERS}
        send(sock, pickle.dumps((len(batch), {key: value for key, value in changed.items() if value})))


def _store_batch(store: CrawlStore, source_id: int, stats: CrawlStats, items: list[Any]) -> None:
    """Listings first (a photo's listing may be in this batch), then the rest, then photos: each kind in a
    few statements. A listing's writes keep their arrival order, and its photos always come after it."""
    listings = [i for i in items if isinstance(i, ListingItem)]
    photos = [i for i in items if isinstance(i, PhotoItem)]
    if listings:
        _store_listings(store, source_id, stats, listings)
    for item in items:
        if not isinstance(item, ListingItem | PhotoItem):
            _store(store, source_id, stats, item)
    if photos:
        _store_photos(store, source_id, stats, photos)


def _store_listings(store: CrawlStore, source_id: int, stats: CrawlStats, items: list[ListingItem]) -> None:
    pages = [FetchedPage(i.page, i.body, i.http_status, i.fetched_at, tuple(i.notes)) for i in items]
    try:
        with store.savepoint():
            store.save_listings(source_id, pages)
    except Exception:  # find the bad record: one at a time, each in its own savepoint
        log.warning("writing %d listings together failed; writing them one by one", len(items), exc_info=True)
        for item in items:
            _store(store, source_id, stats, item)


def _store_photos(store: CrawlStore, source_id: int, stats: CrawlStats, items: list[PhotoItem]) -> None:
    photos = [FetchedPhoto(i.item_id, i.url, i.data, i.position, i.error) for i in items]
    try:
        with store.savepoint():
            outcomes = store.save_photos(source_id, photos)
    except Exception:  # find the bad record: one at a time, each in its own savepoint
        log.warning("writing %d photos together failed; writing them one by one", len(items), exc_info=True)
        for item in items:
            _store(store, source_id, stats, item)
        return
    for outcome in outcomes:
        _count_photo(stats, outcome)


def _count_photo(stats: CrawlStats, outcome: str) -> None:
    setattr(stats, f"photos_{outcome}", getattr(stats, f"photos_{outcome}") + 1)


def _store(store: CrawlStore, source_id: int, stats: CrawlStats, item: Any) -> None:
    try:
        if isinstance(item, ListingItem):
            store.save_listing(source_id, item.page, item.body, item.http_status, item.fetched_at, item.notes)
        elif isinstance(item, RefusedPage):
            store.reject_page(item.url, item.reason)
        elif isinstance(item, SeenItem):
            store.mark_seen(source_id, item.item_ids)
        elif isinstance(item, PhotoItem):
            listing_id = store.listing_id(source_id, item.item_id)
            if listing_id is None:
                raise RuntimeError(f"photo {item.url} arrived before its listing {item.item_id}")
            _count_photo(stats, store.save_photo(listing_id, item.url, item.data, item.position, item.error))
    except Exception as exc:  # one bad record never stops the crawl; it is counted, logged and recorded
        stats.errors += 1
        log.exception("storing %s failed", type(item).__name__)
        if isinstance(item, ListingItem):  # the page itself is lost: say so where refusals are read
            try:
                with store.savepoint():
                    store.reject_page(item.page.url, f"listing {item.page.item_id!r} not stored: {exc}"[:500])
            except Exception:  # the database itself is failing: the log line above is all there is
                log.exception("recording the failure of %s failed", item.page.url)
