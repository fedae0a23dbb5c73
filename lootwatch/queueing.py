"""The photo job queue (RQ on Redis), shared by the crawler that fills it and the workers that drain it.

Jobs are enqueued by dotted name, so the crawler never imports the workers (nor torch), and use
RQ's JSON serializer: arguments are plain JSON. The job id is the photo's sha256, so one photo
is queued at most once however many listings show it.
"""

from __future__ import annotations

from redis import Redis
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

MATCH_JOB = "workers.jobs.match_photo"


def redis_connection(url: str) -> Redis:
    return Redis.from_url(url)


def photo_queue(redis_url: str, name: str = "photos") -> Queue:
    return Queue(name, connection=redis_connection(redis_url), serializer=JSONSerializer)


def enqueue_photo(queue: Queue, photo_id: int, sha256: str) -> Job | None:
    """Queue the match job of a photo; None when a job for those bytes is already queued or running."""
    existing = Job.fetch_many([sha256], connection=queue.connection, serializer=JSONSerializer)[0]
    if existing is not None and existing.get_status(refresh=False) in ("queued", "started", "deferred", "scheduled"):
        return None
    return queue.enqueue(
        MATCH_JOB,
        photo_id,
        job_id=sha256,
        result_ttl=86400,
        failure_ttl=7 * 86400,
        job_timeout=600,
        description=f"match listing photo {photo_id}",
    )
