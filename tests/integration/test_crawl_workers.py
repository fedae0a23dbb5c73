"""Two `lootwatch crawl-worker` processes share the loopback fixture site: the per-domain delay holds
across both (request times at the server), every listing is stored once, a second run is refused."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from lootwatch.crawlers.crawl_queue import crawl_jobs, crawl_queue, enqueue_crawl
from lootwatch.crawlers.politeness import SharedPace
from lootwatch.crawlers.run import run_crawl_isolated
from lootwatch.crawlers.sites import SiteConfig
from redis import Redis
from rq import Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from lootwatch.core.db import Database
from lootwatch.core.settings import Settings
from lootwatch.demo.site import PLAIN_SELECTORS
from tests.fixtures.crawlers import site_server as _server
from tests.integration.crawl_worker_helpers import start_crawl_worker, worker_env, write_sites

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

DELAY_S = 0.6
# Request times are read at the server, after each client's event loop and connection: a loaded
# machine scatters them by some tens of ms, never by a large part of the delay.
SCATTER_S = 0.15


class _StampedHandler(SimpleHTTPRequestHandler):
    """Records when each request arrives. The first robots.txt is answered only once a second crawl
    asks for it too, so the two crawls surely run at the same time (not one after the other)."""

    stamps: list[tuple[float, str]]
    both_started: threading.Barrier

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        type(self).stamps.append((time.time(), self.path))
        if self.path == "/robots.txt":
            try:
                type(self).both_started.wait(timeout=120)
            except threading.BrokenBarrierError:
                pass  # a third robots.txt, or a lone crawl: the overlap assertions say so
        super().do_GET()


@contextmanager
def _stamped_site(root: Path, crawls: int = 2) -> Iterator[tuple[str, list[tuple[float, str]]]]:
    stamps: list[tuple[float, str]] = []
    handler = type("Handler", (_StampedHandler,), {"stamps": stamps, "both_started": threading.Barrier(crawls)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", stamps
    finally:
        server.shutdown()
        server.server_close()


def _sites(base: str, delay: float) -> dict[str, dict]:
    """Two sites on one domain (127.0.0.1): one site is never crawled twice at once, so two crawls of
    one domain at once are crawls of two of its sites."""
    return {
        "plain": {
            "start_urls": [f"{base}/plain/index.html"],
            "allow_private": True,
            "download_delay": delay,
            "selectors": dict(PLAIN_SELECTORS),
        },
        "jsonld": {"start_urls": [f"{base}/catalogue/index.html"], "allow_private": True, "download_delay": delay},
    }


def _wait_done(redis: Redis, job_ids: list[str], timeout_s: float) -> list[Job]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        jobs = Job.fetch_many(job_ids, connection=redis, serializer=JSONSerializer)
        if all(j is not None and j.get_status() in ("finished", "failed") for j in jobs):
            return [j for j in jobs if j is not None]
        time.sleep(0.5)
    raise AssertionError(f"crawl jobs {job_ids} not done in {timeout_s}s")


def test_two_workers_hold_the_domain_delay_and_store_each_listing_once(
    db: Database, redis_url: str, tmp_path: Path
) -> None:
    root = _server.build_site(tmp_path / "site")
    redis = Redis.from_url(redis_url)
    queue = crawl_queue(redis)
    with _stamped_site(root) as (base, stamps):
        env = worker_env(
            db.url, redis_url, tmp_path / "data", write_sites(tmp_path / "sites.toml", _sites(base, DELAY_S))
        )
        workers = [
            start_crawl_worker(env, f"crawler-{i}", burst=False, log=tmp_path / f"worker-{i}.log") for i in (1, 2)
        ]
        try:
            deadline = time.monotonic() + 120
            while len(Worker.all(queue=queue)) < 2:
                assert time.monotonic() < deadline, "crawl workers did not start"
                assert all(w.poll() is None for w in workers), (tmp_path / "worker-1.log").read_text()
                time.sleep(0.5)
            assert enqueue_crawl(queue, "plain", timeout_s=240).queued
            assert enqueue_crawl(queue, "jsonld", timeout_s=240).queued
            refused = enqueue_crawl(queue, "plain", timeout_s=240)
            assert not refused.queued and "already" in refused.why  # one job per site

            seen_running: set[str] = set()
            deadline = time.monotonic() + 240
            while not {"plain", "jsonld"} <= seen_running and time.monotonic() < deadline:
                seen_running |= set(crawl_jobs(redis).running)  # what `lootwatch status` shows
                time.sleep(0.2)
            jobs = _wait_done(redis, ["crawl-plain", "crawl-jsonld"], timeout_s=240)
        finally:
            for w in workers:
                w.terminate()
            for w in workers:
                w.wait(timeout=60)

    logs = "\n".join(p.read_text(errors="replace") for p in sorted(tmp_path.glob("worker-*.log")))
    assert [j.get_status() for j in jobs] == ["finished", "finished"], logs
    results = {j.args[0]: j.return_value() or {} for j in jobs}
    assert results["plain"]["status"] == "finished" and results["jsonld"]["status"] == "finished"
    assert seen_running == {"plain", "jsonld"}  # both ran, each on its own worker
    workers_used = {j.worker_name for j in jobs}
    assert workers_used == {"crawler-1", "crawler-2"}

    # the two crawls overlapped in time, and still no two requests to the domain came closer than
    # the delay (less the clients' scatter); without shared pacing each crawl keeps only its own
    times = [t for t, _ in sorted(stamps)]
    paths = [p for _, p in sorted(stamps)]
    plain = [t for t, p in stamps if p.startswith("/plain/")]
    catalogue = [t for t, p in stamps if p.startswith("/catalogue/")]
    assert paths.count("/robots.txt") == 2
    assert min(catalogue) < max(plain) and min(plain) < max(catalogue)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(gaps) >= 10
    print("request gaps at the server:", [f"{p} +{g:.3f}s" for p, g in zip(paths[1:], gaps, strict=False)])
    assert min(gaps) >= DELAY_S - SCATTER_S, list(zip(paths[1:], gaps, strict=False))

    # every listing, page and photo stored once
    rows = db.fetchall("SELECT item_id, count(*) AS n FROM listings GROUP BY item_id ORDER BY item_id")
    assert [(r["item_id"], r["n"]) for r in rows] == [("A-7", 1), ("lot-101", 1), ("lot-102", 1), ("lot-103", 1)]
    assert db.fetchone("SELECT count(*) AS n FROM page_snapshots")["n"] == 4  # type: ignore[index]
    photos = db.fetchall("SELECT source_url, status FROM listing_photos")
    assert len(photos) == len({p["source_url"] for p in photos}) == 4
    runs = db.fetchall("SELECT s.name, r.status FROM crawl_runs r JOIN sources s ON s.id = r.source_id ORDER BY 1")
    assert [(r["name"], r["status"]) for r in runs] == [("jsonld", "finished"), ("plain", "finished")]


def test_a_job_for_a_site_being_crawled_is_refused_and_the_refusal_recorded(
    db: Database, redis_url: str, tmp_path: Path
) -> None:
    """A crawl of 'plain' is running (here: started by `lootwatch crawl` elsewhere): the worker's run
    is refused by the database, the reason kept beside the runs and in the job's result."""
    db.execute("INSERT INTO sources (name) VALUES ('plain')")
    db.execute("INSERT INTO crawl_runs (source_id) SELECT id FROM sources WHERE name = 'plain'")
    redis = Redis.from_url(redis_url)
    queue = crawl_queue(redis)
    sites = write_sites(tmp_path / "sites.toml", _sites("http://127.0.0.1:9", 0.0))
    env = worker_env(db.url, redis_url, tmp_path / "data", sites)
    assert enqueue_crawl(queue, "plain", timeout_s=60).queued
    worker = start_crawl_worker(env, "crawler-1", burst=True, log=tmp_path / "worker.log")
    assert worker.wait(timeout=180) == 0, (tmp_path / "worker.log").read_text()

    job = Job.fetch("crawl-plain", connection=redis, serializer=JSONSerializer)
    result = job.return_value()
    assert result is not None
    assert job.get_status() == "finished" and result["status"] == "skipped"
    assert "already has a crawl running" in result["note"]
    refused = db.fetchall("SELECT status, note, finished_at FROM crawl_runs WHERE status = 'refused'")
    assert len(refused) == 1 and refused[0]["note"] == result["note"] and refused[0]["finished_at"] is not None
    assert db.fetchone("SELECT count(*) AS n FROM crawl_runs WHERE status = 'running'")["n"] == 1  # type: ignore[index]


def test_sigterm_stops_the_crawl_in_hand_and_records_its_run(db: Database, redis_url: str, tmp_path: Path) -> None:
    """`docker stop` signals only the worker: the crawl it runs stops too, its run is recorded as
    failed (not left 'running' to block the site until it goes stale), and the worker exits."""
    root = _server.build_site(tmp_path / "site")
    redis = Redis.from_url(redis_url)
    with _server.serve(root) as (base, requested):
        sites = write_sites(tmp_path / "sites.toml", _sites(base, 2.0))  # slow: still crawling when stopped
        env = worker_env(db.url, redis_url, tmp_path / "data", sites)
        assert enqueue_crawl(crawl_queue(redis), "plain", timeout_s=240).queued
        log = tmp_path / "worker.log"
        worker = start_crawl_worker(env, "crawler-1", burst=False, log=log)
        try:
            deadline = time.monotonic() + 180
            while len(requested) < 2:  # robots.txt and the first search page: the crawl is under way
                assert time.monotonic() < deadline and worker.poll() is None, log.read_text()
                time.sleep(0.2)
            worker.terminate()
            assert worker.wait(timeout=60) == 0, log.read_text()
        finally:
            if worker.poll() is None:
                worker.kill()
        fetched = len(requested)

    run = db.fetchone("SELECT status, note, finished_at FROM crawl_runs")
    assert run is not None and run["status"] == "failed" and run["finished_at"] is not None
    assert "shutdown" in run["note"], run
    job = Job.fetch("crawl-plain", connection=redis, serializer=JSONSerializer)
    assert job.get_status() == "failed"
    assert fetched < 8  # stopped part-way, not crawled to the end


def test_a_crawl_with_no_delay_honours_a_backoff_shared_by_another_process(
    db: Database, redis_url: str, tmp_path: Path
) -> None:
    """Another crawl process met a 429 on the domain and shared a 0.5 s floor: a crawl of another
    site there, which asks no delay of its own, keeps that floor from its first request on."""
    root = _server.build_site(tmp_path / "site")
    SharedPace(Redis.from_url(redis_url)).raise_floor("127.0.0.1", 0.5)
    with _stamped_site(root, crawls=1) as (base, stamps):
        site = SiteConfig("plain", [f"{base}/plain/index.html"], selectors=PLAIN_SELECTORS, allow_private=True)
        settings = Settings.model_validate({"data_dir": tmp_path / "data", "download_delay_s": 0.0})
        stats = run_crawl_isolated(settings, db.url, redis_url, [site], timeout_s=240)[0]
    assert stats.status == "finished" and stats.listings == 3
    times = sorted(t for t, _ in stamps)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(gaps) >= 8 and min(gaps) >= 0.5 - SCATTER_S, gaps
