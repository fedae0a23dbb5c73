"""``lootwatch status``: one terminal summary of the queue, the record and the live index."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import typer
from rq import Worker
from rq.job import Job

from lootwatch.cli.context import running
from lootwatch.core.db import Database
from lootwatch.core.queueing import RETRAIN_JOB_ID, photo_queue, redis_connection, training_queue
from lootwatch.core.settings import Settings
from lootwatch.core.versioned import VersionedStore
from lootwatch.crawlers.crawl_queue import CrawlJobs, crawl_jobs


@dataclass
class Status:
    queue: str
    queue_depth: int | None  # None: Redis unreachable
    photos: dict[str, int] = field(default_factory=dict)
    review_items: dict[str, int] = field(default_factory=dict)
    notices: dict[str, int] = field(default_factory=dict)
    crawl_runs: list[dict[str, Any]] = field(default_factory=list)
    rejections: dict[str, int] = field(default_factory=dict)  # of the last 24 h, by kind
    page_refusals: dict[str, int] = field(default_factory=dict)  # of the last 24 h, by reason (its first part)
    crawl_jobs: CrawlJobs | None = None  # None: Redis unreachable
    index_version: str | None = None
    threshold: float | None = None
    threshold_source: str = ""
    training: Training | None = None  # None: Redis unreachable


@dataclass
class Training:
    """The classifier retraining queue: what waits, what runs, and whether a worker takes it."""

    waiting: int
    job: str = ""  # the retraining job's state and reason ('' when there is none)
    workers: int = 0  # workers listening on the training queue


def _counts(db: Database, table: str, column: str) -> dict[str, int]:
    rows = db.fetchall(f"SELECT {column} AS k, count(*) AS n FROM {table} GROUP BY 1 ORDER BY 1")  # noqa: S608
    return {str(r["k"]): int(r["n"]) for r in rows}


def _training(redis_url: str) -> Training:
    queue = training_queue(redis_url)
    found = Job.fetch_many([RETRAIN_JOB_ID], connection=queue.connection, serializer=queue.serializer)[0]
    job = ""
    if found is not None:
        status = found.get_status(refresh=False)
        state = str(getattr(status, "value", status))  # RQ's JobStatus enum
        when = found.started_at if state == "started" else found.ended_at or found.enqueued_at
        job = f"{RETRAIN_JOB_ID} {state}" + (f" {when:%Y-%m-%d %H:%M}" if when else "")
        job += f" ({found.description})" if found.description else ""
    return Training(queue.count, job, len(Worker.all(queue=queue)))


def collect(settings: Settings, db: Database, redis_url: str) -> Status:
    try:
        depth: int | None = photo_queue(redis_url, settings.queue_name).count
        jobs: CrawlJobs | None = crawl_jobs(redis_connection(redis_url))
    except Exception:  # noqa: BLE001 - status must show what it can
        depth, jobs = None, None
    st = Status(settings.queue_name, depth, crawl_jobs=jobs)
    try:
        st.training = _training(redis_url)
    except Exception:  # noqa: BLE001 - status must show what it can
        st.training = None
    st.photos = _counts(db, "listing_photos", "status")
    st.review_items = _counts(db, "review_items", "state")
    st.notices = _counts(db, "notifications", "status")
    st.crawl_runs = db.fetchall(
        """SELECT s.name AS site, r.status, r.started_at, r.finished_at,
                  r.pages, r.listings, r.photos, r.errors, r.refused, r.note
           FROM crawl_runs r JOIN sources s ON s.id = r.source_id ORDER BY r.id DESC LIMIT 5"""
    )
    day = "created_at > now() - interval '1 day'"
    st.rejections = {
        r["kind"]: int(r["n"])
        for r in db.fetchall(f"SELECT kind, count(*) AS n FROM rejections WHERE {day} GROUP BY 1 ORDER BY 1")  # noqa: S608
    }
    st.page_refusals = {
        str(r["why"]): int(r["n"])
        for r in db.fetchall(
            f"""SELECT split_part(reason, ':', 1) AS why, count(*) AS n FROM rejections
                WHERE kind = 'page' AND {day} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 8"""  # noqa: S608
        )
    }
    # the index store read without loading FAISS: status stays quick
    st.index_version = VersionedStore(settings.index_dir).current()
    if st.index_version is not None:
        meta = settings.index_dir / st.index_version / "meta.json"
        if meta.exists():
            st.threshold = json.loads(meta.read_text()).get("threshold")
            st.threshold_source = "calibrated"
    if settings.alert_threshold is not None:
        st.threshold, st.threshold_source = settings.alert_threshold, "LOOTWATCH_ALERT_THRESHOLD"
    return st


def _flat(text: str, limit: int = 300) -> str:
    """One terminal line of text a crawled page may have influenced: no control characters, bounded."""
    flat = "".join(ch if ch.isprintable() else " " for ch in str(text))
    flat = " ".join(flat.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _line(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


def _training_line(t: Training | None) -> str:
    if t is None:
        return "training queue: unreachable"
    line = f"training queue: {t.waiting} waiting"
    if t.job:
        line += f"; {t.job}"
    if t.waiting and not t.workers:
        line += "; no training worker is running (start `lootwatch worker --queue training`)"
    return line


def _crawl_jobs_line(jobs: CrawlJobs | None) -> str:
    if jobs is None:
        return "crawl jobs: unreachable"
    running = ", ".join(jobs.running) or "none"
    return f"crawl jobs: running {running}; queued {', '.join(jobs.queued) or 'none'}"


def render(st: Status) -> str:
    depth = "unreachable" if st.queue_depth is None else str(st.queue_depth)
    lines = [
        f"queue {st.queue}: {depth} waiting",
        _training_line(st.training),
        f"photos: {_line(st.photos)}",
        f"review items: {_line(st.review_items)}",
        f"notices: {_line(st.notices)}",
        f"index: {st.index_version or 'none (run `lootwatch index build`)'}"
        + (f", threshold {st.threshold:.3f} ({st.threshold_source})" if st.threshold is not None else ""),
        f"rejections (24 h): {_line(st.rejections)}"
        + (f"; pages refused or failed: {_flat(_line(st.page_refusals))}" if st.page_refusals else ""),
        _crawl_jobs_line(st.crawl_jobs),
        "last crawl runs:" if st.crawl_runs else "last crawl runs: none",
    ]
    for r in st.crawl_runs:
        lines.append(
            f"  {r['site']:<16} {r['status']:<9} {r['started_at']:%Y-%m-%d %H:%M} pages {r['pages']}"
            f" listings {r['listings']} photos {r['photos']} errors {r['errors']} refused {r.get('refused', 0)}"
        )
        if r.get("note"):  # why pages were refused or the run failed (each refusal is a rejections row)
            lines.append(f"    {_flat(r['note'])}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    @app.command()
    def status() -> None:
        """Queue depth, photos / review items / notices by state, last crawl runs, live index."""
        with running() as (s, db, urls):
            typer.echo(render(collect(s, db, urls.redis_url)))
