"""Prometheus metrics of lootwatch processes, served on ``/metrics`` by each worker process.

Counters and histograms are updated where the work happens (a batch, an error); gauges that
describe the shared state (queue depth, review items by state, crawled pages by HTTP status) are
refreshed from Redis and Postgres by :func:`refresh_state_gauges` every few seconds.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram, start_http_server

if TYPE_CHECKING:
    from rq import Queue

    from lootwatch.core.db import Database

log = logging.getLogger(__name__)

QUEUE_DEPTH = Gauge("lootwatch_queue_depth", "Jobs waiting in the photo queue.", ["queue"])
PHOTOS_QUEUED = Gauge("lootwatch_photos_queued", "Listing photos still queued in Postgres (the record).")
PHOTOS = Counter("lootwatch_photos_total", "Listing photos processed by this process.", ["outcome"])
BATCH_SIZE = Histogram("lootwatch_batch_photos", "Photos per embedded batch.", buckets=(1, 2, 4, 8, 16, 32, 64))
JOB_LATENCY = Histogram(
    "lootwatch_job_seconds",
    "Wall time of one match job (a batch).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
ERRORS = Counter("lootwatch_errors_total", "Errors by reason.", ["reason"])
ALERTS = Gauge("lootwatch_review_items", "Review items (alerts) by state.", ["state"])
CRAWLED_PAGES = Gauge("lootwatch_crawled_pages", "Stored page snapshots by HTTP status.", ["status"])
INDEX_INFO = Gauge("lootwatch_index_loaded", "1 for the gallery index version this process matches with.", ["version"])


def start_metrics_server(port: int) -> int | None:
    """Serve /metrics on ``port`` (0: off); a port already taken is logged, not fatal."""
    if port <= 0:
        return None
    try:
        start_http_server(port)
    except OSError as exc:
        log.warning("metrics port unavailable", extra={"action": "metrics.port_busy", "port": port, "error": str(exc)})
        return None
    log.info("metrics served", extra={"action": "metrics.start", "port": port})
    return port


def refresh_state_gauges(db: Database, queue: Queue | None = None) -> None:
    """Read the shared state into the gauges (cheap aggregate queries)."""
    if queue is not None:
        QUEUE_DEPTH.labels(queue.name).set(queue.count)
    row = db.fetchone("SELECT count(*) AS n FROM listing_photos WHERE status = 'queued'")
    PHOTOS_QUEUED.set(row["n"] if row else 0)
    for state in ("new", "confirmed", "dismissed", "escalated"):
        ALERTS.labels(state).set(0)
    for r in db.fetchall("SELECT state, count(*) AS n FROM review_items GROUP BY state"):
        ALERTS.labels(r["state"]).set(r["n"])
    for r in db.fetchall("SELECT http_status, count(*) AS n FROM page_snapshots GROUP BY http_status"):
        CRAWLED_PAGES.labels(str(r["http_status"])).set(r["n"])
