"""RQ jobs: module-level, JSON-able arguments, idempotent (running one twice changes nothing)."""

from __future__ import annotations

import time

from lootwatch.metrics import ERRORS, JOB_LATENCY, PHOTOS
from workers.context import current
from workers.matching import match_batch
from workers.resilience import retry_transient

# A database outage shorter than this is ridden out inside the job; a longer one fails the job and
# the sweeper queues the photo again once the database is back (Postgres still says 'queued').
DB_OUTAGE_PATIENCE_S = 120.0


def match_photo(photo_id: int) -> dict:
    """Match a listing photo (and whatever else is queued, as one batch) against the gallery."""
    ctx = current()
    started = time.perf_counter()
    try:
        result = retry_transient(
            lambda: match_batch(ctx, int(photo_id)),
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
