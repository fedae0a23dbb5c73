"""``lootwatch status``: one terminal summary of the queue, the record and the live index."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import typer

from lootwatch.cli.context import running
from lootwatch.core.db import Database
from lootwatch.core.queueing import photo_queue
from lootwatch.core.settings import Settings
from lootwatch.core.versioned import VersionedStore


@dataclass
class Status:
    queue: str
    queue_depth: int | None  # None: Redis unreachable
    photos: dict[str, int] = field(default_factory=dict)
    review_items: dict[str, int] = field(default_factory=dict)
    notices: dict[str, int] = field(default_factory=dict)
    crawl_runs: list[dict[str, Any]] = field(default_factory=list)
    index_version: str | None = None
    threshold: float | None = None
    threshold_source: str = ""


def _counts(db: Database, table: str, column: str) -> dict[str, int]:
    rows = db.fetchall(f"SELECT {column} AS k, count(*) AS n FROM {table} GROUP BY 1 ORDER BY 1")  # noqa: S608
    return {str(r["k"]): int(r["n"]) for r in rows}


def collect(settings: Settings, db: Database, redis_url: str) -> Status:
    try:
        depth: int | None = photo_queue(redis_url, settings.queue_name).count
    except Exception:  # noqa: BLE001 - status must show what it can
        depth = None
    st = Status(settings.queue_name, depth)
    st.photos = _counts(db, "listing_photos", "status")
    st.review_items = _counts(db, "review_items", "state")
    st.notices = _counts(db, "notifications", "status")
    st.crawl_runs = db.fetchall(
        """SELECT s.name AS site, r.status, r.started_at, r.finished_at,
                  r.pages, r.listings, r.photos, r.errors
           FROM crawl_runs r JOIN sources s ON s.id = r.source_id ORDER BY r.id DESC LIMIT 5"""
    )
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


def _line(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


def render(st: Status) -> str:
    depth = "unreachable" if st.queue_depth is None else str(st.queue_depth)
    lines = [
        f"queue {st.queue}: {depth} waiting",
        f"photos: {_line(st.photos)}",
        f"review items: {_line(st.review_items)}",
        f"notices: {_line(st.notices)}",
        f"index: {st.index_version or 'none (run `lootwatch index build`)'}"
        + (f", threshold {st.threshold:.3f} ({st.threshold_source})" if st.threshold is not None else ""),
        "last crawl runs:" if st.crawl_runs else "last crawl runs: none",
    ]
    for r in st.crawl_runs:
        lines.append(
            f"  {r['site']:<16} {r['status']:<9} {r['started_at']:%Y-%m-%d %H:%M} pages {r['pages']}"
            f" listings {r['listings']} photos {r['photos']} errors {r['errors']}"
        )
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    @app.command()
    def status() -> None:
        """Queue depth, photos / review items / notices by state, last crawl runs, live index."""
        with running() as (s, db, urls):
            typer.echo(render(collect(s, db, urls.redis_url)))
