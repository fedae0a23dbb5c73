"""Worker processes: RQ ``SimpleWorker`` (no fork per job) with model and index loaded once.

``lootwatch worker`` starts one process per core by default, each with one torch thread: on this
kind of CPU two processes with two threads each run at a fraction of the speed of two with one.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import socket
import threading
from collections.abc import Sequence

from rq import SimpleWorker
from rq.serializers import JSONSerializer

from lootwatch.db import Database
from lootwatch.queueing import photo_queue
from lootwatch.settings import Settings
from lootwatch.storage import BlobStore
from workers.context import WorkerContext, install
from workers.engine import MatchEngine
from workers.sweeper import requeue_stale, worker_name

log = logging.getLogger(__name__)


def pick_device(requested: str) -> str:
    import torch

    if requested != "auto":
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def build_context(settings: Settings) -> WorkerContext:
    import torch

    torch.set_num_threads(max(1, settings.torch_threads))
    if not settings.database_url or not settings.redis_url:
        raise ValueError("a worker needs resolved database and redis URLs")
    engine = MatchEngine(settings.descriptor, settings.index_dir, device=pick_device(settings.device), top_k=settings.top_k)
    ctx = WorkerContext(settings, Database(settings.database_url), BlobStore(settings.store_dir), engine)
    install(ctx)
    return ctx


def run_worker(settings: Settings, *, burst: bool = False) -> bool:
    """Run one worker in this process until stopped (or, with ``burst``, until the queue is empty)."""
    ctx = build_context(settings)
    queue = photo_queue(settings.redis_url or "", settings.queue_name)
    requeue_stale(ctx.db, queue, settings.requeue_after_s)
    stop = threading.Event()
    sweeper = threading.Thread(target=_sweep_loop, args=(ctx, queue, stop), daemon=True)
    sweeper.start()
    worker = SimpleWorker(
        [queue],
        connection=queue.connection,
        serializer=JSONSerializer,
        name=worker_name(socket.gethostname(), os.getpid()),
    )
    try:
        return bool(worker.work(burst=burst, logging_level="WARNING", with_scheduler=False))
    finally:
        stop.set()


def _sweep_loop(ctx: WorkerContext, queue, stop: threading.Event) -> None:  # noqa: ANN001
    interval = max(1.0, min(30.0, ctx.settings.requeue_after_s / 2))
    while not stop.wait(interval):
        try:
            requeue_stale(ctx.db, queue, ctx.settings.requeue_after_s)
        except Exception:  # noqa: BLE001 - the sweeper must outlive a Redis or Postgres restart
            log.exception("sweep failed", extra={"action": "sweep.error"})


def _child(settings_json: str, burst: bool) -> None:
    settings = Settings.model_validate_json(settings_json)
    run_worker(settings, burst=burst)


def run_pool(settings: Settings, processes: int, *, burst: bool = False) -> Sequence[int]:
    """Start ``processes`` worker processes and wait for them; returns their exit codes."""
    ctx = mp.get_context("spawn")  # torch and fork do not mix
    procs = [
        ctx.Process(target=_child, args=(settings.model_dump_json(), burst), name=f"lootwatch-worker-{i}")
        for i in range(processes)
    ]
    for p in procs:
        p.start()

    def _forward(signum: int, _frame: object) -> None:
        for p in procs:
            if p.pid:
                os.kill(p.pid, signum)

    old = signal.signal(signal.SIGTERM, _forward)
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        _forward(signal.SIGINT, None)
        for p in procs:
            p.join()
    finally:
        signal.signal(signal.SIGTERM, old)
    return [p.exitcode or 0 for p in procs]
