"""Adding a confirmed listing's photos to the artefact's gallery runs as a queued job on the workers
(which already hold the descriptor), never inside the HTTP request.

The job is named by dotted path so the app does not import the workers' model code, takes the
review item's id (JSON), has a fixed id per item (one queued at a time), and is idempotent: running
it again adds nothing twice (:func:`lootwatch.alerts.feedback.add_listing_photos_to_gallery`).
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.exceptions import RedisError
from rq.job import Job
from rq.serializers import JSONSerializer

from lootwatch.core.errors import ServiceUnavailable
from lootwatch.core.queueing import ACTIVE, photo_queue, redis_connection

GALLERY_JOB = "lootwatch.workers.jobs.add_to_gallery"


def job_id(review_item_id: int) -> str:
    return f"gallery-add-{int(review_item_id)}"


def enqueue_gallery_addition(redis_url: str | None, queue_name: str, review_item_id: int) -> str:
    """Queue the job (unless one for the item is still waiting or running); returns the job id."""
    if not redis_url:
        raise ServiceUnavailable("no Redis URL: the review app was started without the job queue")
    jid = job_id(review_item_id)
    try:
        queue = photo_queue(redis_url, queue_name)
        existing = Job.fetch_many([jid], connection=queue.connection, serializer=JSONSerializer)[0]
        if existing is None or existing.get_status(refresh=False) not in ACTIVE:
            queue.enqueue(
                GALLERY_JOB,
                int(review_item_id),
                job_id=jid,
                job_timeout=1800,
                result_ttl=7 * 86400,
                failure_ttl=30 * 86400,
                description=f"add the listing photos of confirmed review item {review_item_id} to the gallery",
            )
    except RedisError as exc:
        raise ServiceUnavailable(f"Redis does not answer: {exc}") from exc
    return jid


@dataclass(frozen=True)
class JobState:
    status: str  # queued, started, finished, failed, ... or "unknown" when Redis cannot tell
    summary: str


def gallery_job_state(redis_url: str | None, review_item_id: int) -> JobState | None:
    """What became of the item's gallery job; None when none was queued (or its record expired)."""
    if not redis_url:
        return None
    try:
        job = Job.fetch_many([job_id(review_item_id)], connection=redis_connection(redis_url),
                             serializer=JSONSerializer)[0]  # fmt: skip
        if job is None:
            return None
        raw = job.get_status(refresh=False)
        status = str(getattr(raw, "value", raw))  # RQ's JobStatus enum, or None for a vanished job
        result = job.return_value() if status == "finished" else None
        latest = job.latest_result() if status == "failed" else None
        error = latest.exc_string if latest is not None else None
    except RedisError as exc:
        return JobState("unknown", f"the job queue does not answer ({exc})")
    if status == "finished" and isinstance(result, dict):
        return JobState(status, str(result.get("summary", "done")))
    if status == "failed":
        last = (error or "").strip().splitlines()[-1:] or ["no reason recorded"]
        return JobState(status, f"failed: {last[0][:300]}")
    return JobState(status, f"{status}: waiting for a worker" if status == "queued" else status)
