"""The store pipeline's bookkeeping of its writer process's answers (no Scrapy, no database)."""

from __future__ import annotations

import asyncio
import pickle

from lootwatch.crawlers.framing import send, socket_pair
from lootwatch.crawlers.pipelines import MAX_UNANSWERED_BYTES, READY, _Answers, link_to
from lootwatch.crawlers.store import CrawlStats


def test_answers_resolve_items_in_order_and_add_the_writers_counts() -> None:
    async def run() -> None:
        stats = CrawlStats("s")
        stats.errors = 1  # counted by the spider: the writer's counts are added to it
        answers = _Answers(stats)
        futures = [answers.expect() for _ in range(3)]
        answers.answered((2, {"photos_new": 2}))
        assert [f.done() for f in futures] == [True, True, False]
        answers.answered((1, {"errors": 1}))
        assert all(f.done() for f in futures)
        assert (stats.photos_new, stats.errors) == (2, 2)

    asyncio.run(run())


def test_a_writer_that_dies_leaves_nothing_waiting() -> None:
    """Items it never answered, and items sent after it died, are counted as errors: the crawl never hangs."""

    async def run() -> None:
        stats = CrawlStats("s")
        answers = _Answers(stats)
        ours, theirs = socket_pair()
        await asyncio.get_running_loop().create_unix_connection(lambda: link_to(answers), sock=ours)
        waiting = [answers.expect(), answers.expect(), answers.expect()]
        send(theirs, pickle.dumps((1, {"photos_new": 1})))  # one answered, then the writer is gone
        theirs.close()
        await asyncio.wait_for(asyncio.gather(*waiting), timeout=30)
        assert (stats.photos_new, stats.errors) == (1, 2)
        late = answers.expect()
        assert late.done() and stats.errors == 3

    asyncio.run(run())


def test_the_crawl_waits_for_a_writer_that_is_ready_or_gone() -> None:
    """open_spider awaits ``ready``: done at the writer's first answer, or when it died before giving one."""

    async def run() -> None:
        for first in (READY, None):
            answers = _Answers(CrawlStats("s"))
            assert not answers.ready.done()
            answers.answered(first)
            assert answers.ready.done() and answers.writer_gone == (first is None)
            assert answers.expect().done() == (first is None)  # a live writer's item waits for its answer

    asyncio.run(run())


def test_the_crawl_pauses_while_too_many_bytes_wait_for_the_writer() -> None:
    """Back pressure: paused once the unanswered items pass the bound, resumed when half of it is written."""

    async def run() -> None:
        calls: list[bool] = []
        answers = _Answers(CrawlStats("s"), on_backlog=calls.append)
        half = MAX_UNANSWERED_BYTES // 2
        answers.expect(half)
        answers.expect(half)
        assert calls == []  # at the bound, not above it
        answers.expect(1)
        assert calls == [True]
        answers.expect(1)
        assert calls == [True]  # told once
        answers.answered((1, {}))
        assert calls == [True]  # half and two bytes still wait
        answers.answered((1, {}))
        assert calls == [True, False] and answers.waiting_bytes == 2

    asyncio.run(run())


def test_a_writer_that_ends_resumes_a_paused_crawl_and_ends_its_wait() -> None:
    async def run() -> None:
        calls: list[bool] = []
        stats = CrawlStats("s")
        answers = _Answers(stats, on_backlog=calls.append)
        answers.expect(MAX_UNANSWERED_BYTES + 1)
        answers.answered(None)
        assert calls == [True, False] and answers.ended.done() and stats.errors == 1

    asyncio.run(run())


def test_items_go_to_the_store_sink_once_it_is_set_and_to_scrapy_before() -> None:
    from lootwatch.crawlers.items import SeenItem
    from lootwatch.crawlers.sites import SiteConfig
    from lootwatch.crawlers.spiders.listing import ListingSpider

    spider = ListingSpider(SiteConfig("s", ["http://example.com/"]), CrawlStats("s"))
    item = SeenItem(["1"])
    assert list(spider._emit(item)) == [item]
    sent: list[object] = []
    spider.store_sink = sent.append
    assert list(spider._emit(item)) == [] and sent == [item]
