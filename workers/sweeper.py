"""Re-queue photos whose job was lost.

The queue is a delivery mechanism, Postgres is the record: a photo still 'queued' in Postgres long
after it was fetched, with no live job in Redis (its worker was killed, Redis restarted and forgot
it, the enqueue itself failed), gets a fresh job. Matching is idempotent, so a duplicate job is
harmless: it finds the photo matched and does nothing.
"""

from __future__ import annotations

import logging
import os
import socket

from rq import Queue, Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from lootwatch.core.db import Database
from lootwatch.core.queueing import MATCH_JOB

log = logging.getLogger(__name__)

_LIVE = ("queued", "deferred", "scheduled")


def requeue_stale(db: Database, queue: Queue, stale_after_s: float, limit: int = 1000) -> int:
    rows = db.fetchall(
        """SELECT id, sha256 FROM listing_photos
           WHERE status = 'queued' AND fetched_at < now() - make_interval(secs => %s)
           ORDER BY id LIMIT %s""",
        (stale_after_s, limit),
    )
    requeued = 0
    for row in rows:
        job = Job.fetch_many([row["sha256"]], connection=queue.connection, serializer=JSONSerializer)[0]
        status = job.get_status(refresh=False) if job is not None else None
        if status in _LIVE:
            continue
        if status == "started" and job is not None and not _worker_gone(job, queue):
            continue
        # A new id: the old job record may still be held by RQ's registries.
        retry_id = f"{row['sha256']}-r{_retry_count(queue, row['sha256']) + 1}"
        queue.enqueue(MATCH_JOB, row["id"], job_id=retry_id, result_ttl=86400, failure_ttl=7 * 86400)
        requeued += 1
    if requeued:
        log.warning("re-queued stale photos", extra={"action": "sweep.requeue", "count": requeued})
    return requeued


def worker_name(hostname: str, pid: int) -> str:
    """Worker names carry host and pid, so a killed worker on this host is seen at once."""
    return f"lootwatch.{hostname}.{pid}"


def _worker_gone(job: Job, queue: Queue) -> bool:
    name = job.worker_name
    if not name:
        return True
    if name.startswith("lootwatch."):
        host, _, pid = name[len("lootwatch.") :].rpartition(".")
        if host == socket.gethostname() and pid.isdigit():
            return not _pid_alive(int(pid))
    # another host: RQ drops a worker whose heartbeat stopped (worker_ttl)
    return all(w.name != name for w in Worker.all(connection=queue.connection))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _retry_count(queue: Queue, sha: str) -> int:
    keys = queue.connection.keys(f"rq:job:{sha}-r*")
    return len(keys)
