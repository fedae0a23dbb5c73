"""The ``crawl`` queue (RQ on Redis): the scheduler puts crawl runs on it, crawl workers take them.

A job is the site's name only (JSON), run by :func:`lootwatch.crawlers.jobs.crawl_site`, enqueued by
dotted name so the scheduler never loads Scrapy. Its id is derived from the site's name, so a site
has at most one crawl job queued or running: a second is refused here, and a run that would
overlap one started some other way (``lootwatch crawl``) is refused by the crawl_runs unique index.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from lootwatch.core.queueing import ACTIVE

CRAWL_QUEUE = "crawl"
CRAWL_JOB = "lootwatch.crawlers.jobs.crawl_site"
JOB_MARGIN_S = 120.0  # RQ's own timeout is the crawl's plus this: the crawl's timeout speaks first
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def crawl_queue(redis: Redis) -> Queue:
    return Queue(CRAWL_QUEUE, connection=redis, serializer=JSONSerializer)


def crawl_job_id(site: str) -> str:
    """``crawl-<site>``; a name with characters RQ refuses in ids gets them replaced and a hash added."""
    safe = _UNSAFE.sub("_", site)
    if safe != site:
        safe += "-" + hashlib.sha256(site.encode()).hexdigest()[:8]
    return f"crawl-{safe}"


@dataclass(frozen=True)
class Enqueued:
    site: str
    queued: bool
    why: str = ""  # why not, when not queued


def enqueue_crawl(queue: Queue, site: str, timeout_s: float) -> Enqueued:
    """Queue a crawl of ``site`` unless one is already queued or running."""
    job_id = crawl_job_id(site)
    existing = Job.fetch_many([job_id], connection=queue.connection, serializer=JSONSerializer)[0]
    if existing is not None and (status := existing.get_status(refresh=False)) in ACTIVE:
        return Enqueued(site, False, f"a crawl of {site!r} is already {JobStatus(status).value}")
    queue.enqueue(
        CRAWL_JOB,
        site,
        job_id=job_id,
        job_timeout=int(timeout_s + JOB_MARGIN_S),
        result_ttl=7 * 86400,
        failure_ttl=7 * 86400,
        description=f"crawl site {site}",
    )
    return Enqueued(site, True)


@dataclass(frozen=True)
class CrawlJobs:
    queued: list[str]  # site names, in queue order
    running: list[str]


def crawl_jobs(redis: Redis) -> CrawlJobs:
    """Sites whose crawl job waits on the queue, and those a crawl worker is running now."""
    queue = crawl_queue(redis)
    waiting = queue.job_ids
    started = StartedJobRegistry(queue=queue).get_job_ids()
    jobs = Job.fetch_many(waiting + started, connection=redis, serializer=JSONSerializer)
    sites = [str(j.args[0]) if j is not None and j.args else "?" for j in jobs]
    return CrawlJobs(sites[: len(waiting)], sites[len(waiting) :])
