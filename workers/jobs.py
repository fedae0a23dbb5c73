"""RQ jobs: module-level, JSON-able arguments, idempotent (running one twice changes nothing)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from lootwatch.alerts.feedback import add_listing_photos_to_gallery
from lootwatch.matcher.retrain import retrain
from lootwatch.workers.context import current
from lootwatch.workers.matching import OnCommit, match_batch
from lootwatch.workers.resilience import retry_transient
from lootwatch.workers.training import training_context
from redis.exceptions import RedisError
from rq import Queue, get_current_job
from rq.job import Job

from lootwatch.core.metrics import ERRORS, JOB_LATENCY, PHOTOS

log = logging.getLogger(__name__)

# A database outage shorter than this is ridden out inside the job; a longer one fails the job and
# the sweeper queues the photo again once the database is back (Postgres still says 'queued').
DB_OUTAGE_PATIENCE_S = 120.0


def match_photo(photo_id: int) -> dict:
    """Match a listing photo, and whatever else is queued (in batches), against the gallery."""
    ctx = current()
    started = time.perf_counter()
    forget = _forgetter(get_current_job())
    try:
        result = retry_transient(
            lambda: match_batch(ctx, int(photo_id), on_commit=forget),
            f"match photo {photo_id}",
            give_up_after_s=DB_OUTAGE_PATIENCE_S,
        )
    except Exception as exc:
        ERRORS.labels(type(exc).__name__).inc()
        raise
    finally:
        JOB_LATENCY.observe(time.perf_counter() - started)
    if result.matched:
        PHOTOS.labels("matched").inc(len(result.matched))
    if result.rejected:
        PHOTOS.labels("rejected").inc(len(result.rejected))
        ERRORS.labels("bad_input").inc(len(result.rejected))
    return result.to_dict()


def _forgetter(job: Job | None) -> OnCommit | None:
    """Drops, from this job's queue, the still-waiting jobs of photos a batch has just matched.

    Each such job would only find its photo matched, yet costs a worker an RQ round and a database
    connection. A job is dropped only if this worker took it off the queue list itself (LREM is
    atomic against RQ's dequeue), so a job another worker has started is left to run as a no-op.
    Answers False when Redis is unreachable, so the job stops draining until the queue is back.
    """
    if job is None or not job.origin:
        return None
    redis, queue_key = job.connection, Queue(job.origin, connection=job.connection).key

    def forget(job_ids: Sequence[str]) -> bool:
        try:
            pipe = redis.pipeline(transaction=False)
            for job_id in job_ids:
                pipe.lrem(queue_key, 1, job_id)
            taken = [job_id for job_id, n in zip(job_ids, pipe.execute(), strict=True) if n]
            if taken:  # never started, so the hash is all RQ holds of them
                redis.delete(*(Job.key_for(job_id) for job_id in taken))
        except RedisError as exc:  # the photos are committed: their jobs merely run as no-ops
            log.warning("queued jobs not dropped", extra={"action": "redis.unavailable", "error": str(exc)[:200]})
            return False
        return True

    return forget


def add_to_gallery(review_item_id: int) -> dict:
    """Add a confirmed review item's listing photos to its artefact's gallery and the live index.

    Queued by the review app on confirmation. Idempotent: photos already in the gallery or the
    index are not added twice. Uses the worker's descriptor, made current first, so the vectors
    added are those of the live index version's own descriptor.
    """
    ctx = current()
    ctx.engine.reload_if_changed(force=True)
    added = add_listing_photos_to_gallery(ctx.db, ctx.settings, int(review_item_id), descriptor=ctx.engine.descriptor)
    log.info(
        "gallery extended",
        extra={"action": "gallery.add_confirmed", "review_item": review_item_id,
               "added": len(added.added_photo_ids), "indexed": len(added.indexed_photo_ids)},
    )  # fmt: skip
    return added.to_dict()
def retrain_classifier(
    reason: str,
    epochs: int | None = None,
    input_size: int | None = None,
    views: int | None = None,
    fusion: str = "auto",
) -> dict[str, Any]:
    """RQ job (training queue): retrain the classifier from the Postgres gallery of this worker's settings
    (``matcher.retrain``)."""
    ctx = training_context()
    return retrain(
        ctx.settings, ctx.db, reason, epochs=epochs, input_size=input_size, views=views, fusion=fusion
    ).to_dict()
