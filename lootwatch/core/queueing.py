"""The job queues (RQ on Redis): photos, shared by the crawler that fills it and the workers that drain
it, and training, where classifier retraining waits for its own worker (``lootwatch worker --queue
training``) so that a photo worker never spends minutes training while photos wait.

Jobs are enqueued by dotted name, so the crawler never imports the workers (nor torch), and use
RQ's JSON serializer: arguments are plain JSON. The job id is the photo's sha256, so one photo
is queued at most once however many listings show it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.serializers import JSONSerializer

MATCH_JOB = "lootwatch.workers.jobs.match_photo"
TRAINING_QUEUE = "training"  # classifier retraining jobs, never the photo queue
RESERVED_QUEUES = frozenset({TRAINING_QUEUE})
RETRAIN_JOB = "lootwatch.workers.jobs.retrain_classifier"
RETRAIN_JOB_ID = "retrain-classifier"  # one retraining waits at a time: it reads the gallery when it starts
JOB_TIMEOUT_S = 600
ACTIVE = ("queued", "started", "deferred", "scheduled")  # a job in these states still gets done
LISTENER_POLL_S = 1.0  # how long RQ's command listener waits for a message at a time (RQ's own: 60 s)


class QuickStopWorker(SimpleWorker):
    """RQ's in-process worker whose command listener polls every second instead of every 60 s.

    redis-py 8.2's ``PubSubWorkerThread.stop()`` waits for the thread, and a listener caught in its
    60 s wait held a stopping worker (the end of a burst, a SIGTERM) up to a minute. Every lootwatch
    worker (photos, training, crawls) is one of these."""

    def subscribe(self) -> None:
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]  # RQ leaves it unannotated
            sleep_time=LISTENER_POLL_S, daemon=True, exception_handler=self._pubsub_exception_handler
        )


def redis_connection(url: str) -> Redis:
    return Redis.from_url(url)


def photo_queue(redis_url: str, name: str = "photos") -> Queue:
    return Queue(name, connection=redis_connection(redis_url), serializer=JSONSerializer)


def training_queue(redis_url: str) -> Queue:
    """The queue of classifier retraining jobs."""
    return Queue(TRAINING_QUEUE, connection=redis_connection(redis_url), serializer=JSONSerializer)


def _job_options(photo_id: int) -> dict[str, Any]:
    return {
        "result_ttl": 86400,
        "failure_ttl": 7 * 86400,
        "description": f"match listing photo {photo_id}",
    }


def enqueue_photo(queue: Queue, photo_id: int, sha256: str) -> Job | None:
    """Queue the match job of a photo; None when a job for those bytes is already queued or running."""
    existing = Job.fetch_many([sha256], connection=queue.connection, serializer=JSONSerializer)[0]
    if existing is not None and existing.get_status(refresh=False) in ACTIVE:
        return None
    return queue.enqueue(MATCH_JOB, photo_id, job_id=sha256, job_timeout=JOB_TIMEOUT_S, **_job_options(photo_id))


def enqueue_photos(queue: Queue, photos: Sequence[tuple[int, str]]) -> int:
    """:func:`enqueue_photo` for many (photo id, sha256) pairs in two round trips to Redis (look up, then
    one pipeline), not three or more each. Returns how many jobs were queued."""
    wanted: dict[str, int] = {}
    for photo_id, sha in photos:
        wanted.setdefault(sha, photo_id)  # one job per bytes
    existing = Job.fetch_many(list(wanted), connection=queue.connection, serializer=JSONSerializer)
    todo = [
        Queue.prepare_data(MATCH_JOB, args=(photo_id,), job_id=sha, timeout=JOB_TIMEOUT_S, **_job_options(photo_id))
        for (sha, photo_id), job in zip(wanted.items(), existing, strict=True)
        if job is None or job.get_status(refresh=False) not in ACTIVE
    ]
    if todo:
        queue.enqueue_many(todo)
    return len(todo)


def enqueue_retrain(queue: Queue, reason: str, **kwargs: Any) -> Job | None:
    """Queue a retraining (``queue``: an RQ queue with the JSON serializer); None when one is
    already waiting: it will read the gallery as it is when it starts, so one is enough. A running
    one does not count, since it may have read the gallery before this change."""
    existing = Job.fetch_many([RETRAIN_JOB_ID], connection=queue.connection, serializer=queue.serializer)[0]
    if existing is not None and existing.get_status(refresh=False) in ("queued", "deferred", "scheduled"):
        return None
    return queue.enqueue(
        RETRAIN_JOB,
        args=(reason,),
        kwargs=kwargs,
        job_id=RETRAIN_JOB_ID,
        job_timeout=3600,
        description=f"retrain the instance classifier: {reason}",
    )
