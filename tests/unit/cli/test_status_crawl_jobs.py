"""`lootwatch status` lists crawl jobs running and waiting, and says when Redis is out of reach."""

from __future__ import annotations

from lootwatch.crawlers.crawl_queue import CrawlJobs

from lootwatch.cli.status import Status, render


def test_status_lists_running_and_queued_crawl_jobs() -> None:
    st = Status("photos", 0, crawl_jobs=CrawlJobs(queued=["catawiki", "drouot"], running=["ebay-antiquities"]))
    assert "crawl jobs: running ebay-antiquities; queued catawiki, drouot" in render(st)
    assert "crawl jobs: running none; queued none" in render(Status("photos", 0, crawl_jobs=CrawlJobs([], [])))
    assert "crawl jobs: unreachable" in render(Status("photos", None))
