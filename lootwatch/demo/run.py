"""``lootwatch demo``: the whole pipeline on a synthetic gallery and a local auction site.

generate gallery + site -> gallery import -> index build -> serve the site on 127.0.0.1 -> crawl
(separate process: Scrapy's reactor, Chromium for the JavaScript pages) -> workers (separate
processes) -> review items -> notices delivered to a local SMTP server and a local webhook ->
a table checked against the demo's answer key. Each stage is checked; the first that delivered
nothing is named and the demo exits non-zero.

The demo runs in its own database (``lootwatch_demo``, recreated each run) and its own queue, so
it never touches a deployment's data even when the URLs point at real servers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import conninfo

from lootwatch.alerts.dispatch import deliver_due
from lootwatch.core.db import Database
from lootwatch.core.db.migrate import migrate
from lootwatch.core.errors import LootwatchError
from lootwatch.core.queueing import photo_queue
from lootwatch.core.services import ServiceUrls
from lootwatch.core.settings import Settings
from lootwatch.core.storage import BlobStore
from lootwatch.demo.sinks import LocalSinks
from lootwatch.demo.site import JS_SELECTORS, PLAIN_SELECTORS, serve
from lootwatch.demo.synth import generate
from lootwatch.gallery import import_gallery
from lootwatch.indexing import build_and_publish

DEMO_DB = "lootwatch_demo"


class StageFailed(LootwatchError):
    """A demo stage delivered nothing."""


@dataclass
class DemoRow:
    url: str
    expected: str | None
    artefact: str | None
    score: float | None
    state: str | None

    @property
    def correct(self) -> bool:
        return self.expected == self.artefact


@dataclass
class DemoOutcome:
    rows: list[DemoRow] = field(default_factory=list)
    stages: dict[str, int] = field(default_factory=dict)

    @property
    def true_alerts(self) -> int:
        return sum(1 for r in self.rows if r.expected and r.artefact == r.expected)

    @property
    def false_alerts(self) -> int:
        return sum(1 for r in self.rows if r.artefact and r.artefact != r.expected)

    @property
    def missed(self) -> int:
        return sum(1 for r in self.rows if r.expected and r.artefact != r.expected)


def demo_database(server_url: str) -> str:
    """Drop and recreate the demo's own database on the server; return its URL."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DEMO_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DEMO_DB}"')
    url = conninfo.make_conninfo(server_url, dbname=DEMO_DB)
    migrate(url)
    return url


def child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    for key, value in {
        "LOOTWATCH_DATABASE_URL": settings.database_url,
        "LOOTWATCH_REDIS_URL": settings.redis_url,
        "LOOTWATCH_DATA_DIR": str(settings.data_dir),
        "LOOTWATCH_QUEUE_NAME": settings.queue_name,
        "LOOTWATCH_DESCRIPTOR": settings.descriptor,
        "LOOTWATCH_REQUEUE_AFTER_S": str(settings.requeue_after_s),
        "LOOTWATCH_SMTP_HOST": settings.smtp_host,
        "LOOTWATCH_SMTP_PORT": str(settings.smtp_port),
        "LOOTWATCH_EMAIL_TO": json.dumps(settings.email_to),
        "LOOTWATCH_SLACK_WEBHOOK_URL": settings.slack_webhook_url,
    }.items():
        if value is not None:
            env[key] = str(value)
    if settings.alert_threshold is not None:
        env["LOOTWATCH_ALERT_THRESHOLD"] = str(settings.alert_threshold)
    return env


def lootwatch_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "lootwatch", *args]


@dataclass
class DemoRun:
    """The demo's world: its settings (own database, data dir and queue), the answer key, the outcome."""

    settings: Settings
    db: Database
    answers: dict[str, str | None]
    site_dir: Path
    outcome: DemoOutcome = field(default_factory=DemoOutcome)


def prepare(
    base: Settings, urls: ServiceUrls, say: Callable[[str], None] = print, *, classifier: bool = False
) -> DemoRun:
    """Stages 1-3: synthetic gallery and site, gallery import, index build (and classifier training)."""
    data_dir = base.data_dir / "demo"
    for sub in ("store", "index", "synth"):
        shutil.rmtree(data_dir / sub, ignore_errors=True)
    settings = base.model_copy(
        update={
            "data_dir": data_dir,
            "database_url": demo_database(urls.database_url),
            "redis_url": urls.redis_url,
            "queue_name": "demo-photos",
        }
    )
    db = Database(settings.database_url or "")
    photo_queue(settings.redis_url or "", settings.queue_name).empty()

    say("1/7 generating the synthetic protected gallery and the demo auction site")
    synth = generate(data_dir / "synth")
    answers: dict[str, str | None] = json.loads((data_dir / "synth" / "answers.json").read_text())
    run = DemoRun(settings, db, answers, synth.site_dir)

    say("2/7 importing the gallery")
    report = import_gallery(
        db,
        BlobStore(settings.store_dir),
        data_dir / "synth" / "gallery.csv",
        max_bytes=settings.max_photo_bytes,
        max_pixels=settings.max_photo_pixels,
    )
    _stage(run.outcome, "gallery photos", report.photos_added)

    say("3/7 building the gallery index")
    index = build_and_publish(db, settings, progress=False, say=lambda msg: say(f"     {msg}"))
    _stage(run.outcome, "indexed photos", index.ntotal)
    how = index.calibration.get("queries", "the gallery")
    say(f"     index {index.version}, alert threshold {index.threshold:.3f} (calibrated on {how})")
    if classifier:
        from lootwatch.matcher.retrain import retrain  # heavy import: faiss

        say("     training the instance classifier on the gallery (workers fuse it with the descriptor)")
        trained = retrain(settings, db, "demo gallery")
        say(f"     classifier {trained.version} published")
    return run


def crawl(run: DemoRun, say: Callable[[str], None] = print) -> int:
    """Stage 4: serve the demo site and crawl its three styles in a `lootwatch crawl` process."""
    with serve(run.site_dir) as site:
        say(f"4/7 crawling the demo auction site at {site.url} (three page styles, one needs Chromium)")
        sites_file = run.settings.data_dir / "sites.toml"
        sites_file.write_text(demo_sites_toml(site.url))
        done = subprocess.run(
            lootwatch_cmd("crawl", "demo-plain", "demo-jsonld", "demo-js", "--sites-file", str(sites_file)),
            env=child_env(run.settings),
            check=False,
        )
        if done.returncode != 0:
            raise StageFailed(f"crawl: `lootwatch crawl` exited with {done.returncode}")
    _stage(run.outcome, "listings crawled", _count(run.db, "SELECT count(*) AS n FROM listings"))
    queued = len(photo_queue(run.settings.redis_url or "", run.settings.queue_name))
    _stage(run.outcome, "photo jobs queued", queued)
    return queued


def start_workers(run: DemoRun, workers: int) -> subprocess.Popen:
    """`lootwatch worker --burst`: matches what is queued, then exits."""
    return subprocess.Popen(
        lootwatch_cmd("worker", "--processes", str(workers), "--burst"), env=child_env(run.settings)
    )


def finish(run: DemoRun, say: Callable[[str], None] = print) -> DemoOutcome:
    """Stages 6-7: deliver the notices the workers wrote; check alerts against the answer key."""
    _stage(
        run.outcome,
        "photos matched",
        _count(run.db, "SELECT count(*) AS n FROM listing_photos WHERE status = 'matched'"),
    )
    _stage(run.outcome, "review items", _count(run.db, "SELECT count(*) AS n FROM review_items"))
    say("6/7 delivering notices to a local SMTP server and a local Slack-style webhook")
    _stage(run.outcome, "notices sent", deliver_all(run.db, run.settings))
    say("7/7 checking the alerts against the demo's answer key")
    run.outcome.rows = demo_rows(run.db, run.answers)
    return run.outcome


def run_demo(
    base: Settings,
    urls: ServiceUrls,
    *,
    workers: int = 2,
    classifier: bool = False,
    say: Callable[[str], None] = print,
) -> DemoOutcome:
    run = prepare(base, urls, say, classifier=classifier)
    queued = crawl(run, say)
    with LocalSinks() as sinks:
        # notices are written by the workers, in the transaction that opens each review item
        run.settings = with_sinks(run.settings, sinks)
        say(f"5/7 matching {queued} listing photos with {workers} worker processes")
        code = start_workers(run, workers).wait()
        if code != 0:
            raise StageFailed(f"match: `lootwatch worker` exited with {code}")
        outcome = finish(run, say)
        _stage(outcome, "emails received", sinks.emails)
        _stage(outcome, "webhook posts received", sinks.webhooks)
    return outcome


def with_sinks(settings: Settings, sinks: LocalSinks) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": sinks.smtp_port,
            "email_to": ["heritage-police@example.org"],
            "slack_webhook_url": sinks.webhook_url,
        }
    )


def _stage(outcome: DemoOutcome, name: str, count: int) -> None:
    outcome.stages[name] = count
    if count == 0:
        raise StageFailed(f"{name}: the stage delivered nothing")


def _count(db: Database, sql: str) -> int:
    row = db.fetchone(sql)
    return int(row["n"]) if row else 0


def demo_sites_toml(base_url: str) -> str:
    def table(name: str, start: str, selectors: dict[str, str] | None, needs_js: bool = False) -> str:
        lines = [f"[sites.{name}]", f'start_urls = ["{base_url}{start}"]', 'adapter = "generic"']
        lines += ["needs_js = true"] if needs_js else []
        lines += ["allow_private = true", "download_delay = 0"]
        if selectors:
            lines.append(f"[sites.{name}.selectors]")
            lines += [f"{key} = {json.dumps(value)}" for key, value in selectors.items()]
        return "\n".join(lines) + "\n"

    return "# written by `lootwatch demo` for its local auction site\n" + "\n".join(
        [
            table("demo-plain", "/plain/", PLAIN_SELECTORS),
            table("demo-jsonld", "/catalogue/", None),
            table("demo-js", "/live/", JS_SELECTORS, needs_js=True),
        ]
    )


def deliver_all(db: Database, settings: Settings, timeout_s: float = 60.0) -> int:
    """Deliver the outbox until nothing is pending (retries included); return notices sent."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        deliver_due(db, settings)
        if _count(db, "SELECT count(*) AS n FROM notifications WHERE status IN ('pending', 'sending')") == 0:
            break
        time.sleep(0.5)
    return _count(db, "SELECT count(*) AS n FROM notifications WHERE status = 'sent'")


def demo_rows(db: Database, answers: dict[str, str | None]) -> list[DemoRow]:
    listings = db.fetchall(
        """SELECT l.url, l.item_id, r.artefact_id, r.score, r.state
           FROM listings l LEFT JOIN LATERAL (
             SELECT artefact_id, score, state FROM review_items WHERE listing_id = l.id ORDER BY score DESC LIMIT 1
           ) r ON true ORDER BY l.url"""
    )
    rows = []
    for r in listings:
        # the answer key is keyed by the demo's lot id, the last segment of the listing URL
        expected = answers.get(r["url"].rstrip("/").rsplit("/", 1)[-1])
        rows.append(DemoRow(r["url"], expected, r["artefact_id"], r["score"], r["state"]))
    return rows
