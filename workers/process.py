"""Worker processes: RQ ``SimpleWorker`` (no fork per job) with model and index loaded once.

``lootwatch worker`` starts one process per core by default, each with one torch thread: on this
kind of CPU two processes with two threads each run at a fraction of the speed of two with one.
Each process serves Prometheus metrics on ``metrics_port + its index`` and survives Redis and
PostgreSQL restarts: the RQ loop that lost its server is started again after a backoff.
"""

from __future__ import annotations

import ctypes
import io
import logging
import multiprocessing as mp
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence

import faiss
import lootwatch.alerts.outbox  # noqa: F401 - loaded with the worker, not by its first job
from lootwatch.workers.context import WorkerContext, install
from lootwatch.workers.engine import MatchEngine
from lootwatch.workers.resilience import Backoff, retry_transient, transient_reason
from lootwatch.workers.sweeper import requeue_stale, worker_name
from PIL import Image
from rq import Queue
from rq.serializers import JSONSerializer

from lootwatch.core.db import Database
from lootwatch.core.images import vet_image
from lootwatch.core.metrics import INDEX_INFO, refresh_state_gauges, start_metrics_server
from lootwatch.core.queueing import QuickStopWorker, photo_queue
from lootwatch.core.settings import Settings
from lootwatch.core.storage import BlobStore

log = logging.getLogger(__name__)

DEFAULT_METRICS_PORT = 9108  # until Settings has metrics_port


def pick_device(requested: str) -> str:
    import torch  # heavy import: torch, loaded when a worker starts, not when this module is imported

    if requested != "auto":
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


# glibc hands blocks over 128 KB-32 MB back to the kernel as soon as they are freed (munmap, heap trim).
# The forward pass frees and allocates its activations (up to ~80 MB a layer at batch 16) layer after
# layer, so every batch faulted in ~100k fresh zeroed pages: 15 of 38 ms of CPU a photo was the
# kernel's. Kept in the heap instead (no mmap, trim only above this), a forward pass takes 24 ms a photo.
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
MALLOC_KEEP_BYTES = 512 * 2**20


def tune_allocator() -> bool:
    """Let freed memory be reused by the next forward pass instead of returned to the kernel (glibc)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, MALLOC_KEEP_BYTES))


def build_context(settings: Settings) -> WorkerContext:
    import torch  # heavy import: torch, loaded when a worker starts, not when this module is imported

    tune_allocator()
    # processes scale, threads per process collapse on a small CPU: torch and FAISS alike
    torch.set_num_threads(max(1, settings.torch_threads))
    faiss.omp_set_num_threads(max(1, settings.torch_threads))
    if not settings.database_url or not settings.redis_url:
        raise ValueError("a worker needs resolved database and redis URLs")
    engine = MatchEngine(
        settings.descriptor,
        settings.index_dir,
        device=pick_device(settings.device),
        top_k=settings.top_k,
        precision=getattr(settings, "precision", "auto"),
        precision_batch=settings.batch_size,
        precision_cache=settings.data_dir / "cache" / "precision.json",
    )
    ctx = WorkerContext(settings, Database(settings.database_url), BlobStore(settings.store_dir), engine)
    _warm_up()
    install(ctx)
    return ctx


def _warm_up() -> None:
    """What the first job would otherwise set up mid-batch: the decode and perceptual hash path (the alert
    outbox is imported with this module)."""
    buf = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buf, "JPEG")
    vet_image(buf.getvalue())


def metrics_port_of(settings: Settings, index: int) -> int:
    base = int(getattr(settings, "metrics_port", DEFAULT_METRICS_PORT))
    return base + index if base > 0 else 0


def run_worker(settings: Settings, *, burst: bool = False, index: int = 0) -> bool:
    """Run one worker in this process until stopped (or, with ``burst``, until the queue is empty)."""
    ctx = build_context(settings)
    start_metrics_server(metrics_port_of(settings, index))
    INDEX_INFO.labels(ctx.engine.index_version).set(1)
    queue = photo_queue(settings.redis_url or "", settings.queue_name)
    retry_transient(lambda: requeue_stale(ctx.db, queue, settings.requeue_after_s), "start-up sweep")
    stop = threading.Event()
    sweeper = threading.Thread(target=_sweep_loop, args=(ctx, queue, stop), daemon=True)
    sweeper.start()
    try:
        return _supervise(ctx, queue, burst)
    finally:
        stop.set()


class _Worker(QuickStopWorker):
    """RQ's in-process worker; a warm shutdown also tells a job draining the queue to stop claiming."""

    stopping: threading.Event | None = None

    def request_stop(self, signum: int, frame: object) -> None:
        if self.stopping is not None:
            self.stopping.set()
        super().request_stop(signum, frame)


def _supervise(ctx: WorkerContext, queue: Queue, burst: bool) -> bool:
    """RQ's loop quits on a lost Redis connection: start it again (with backoff) until done or stopped."""
    name = worker_name(socket.gethostname(), os.getpid())
    backoff = Backoff(first_s=0.5, cap_s=10.0)
    worked = False
    while True:
        worker: _Worker | None = None
        error: Exception | None = None
        try:  # the constructor already talks to Redis
            worker = _Worker([queue], connection=queue.connection, serializer=JSONSerializer, name=name)
            worker.stopping = ctx.stopping
            queue.connection.delete(worker.key)  # a registration left by our own lost loop (same pid)
            worked = bool(worker.work(burst=burst, logging_level="WARNING", with_scheduler=False)) or worked
        except Exception as exc:  # noqa: BLE001 - judged below: transient ones are ridden out
            if transient_reason(exc) is None:
                raise
            error = exc
        # SIGTERM / SIGINT: RQ stopped (after the current job, if one was running)
        if worker is not None and worker._shutdown_requested_date is not None:
            return worked
        if error is None and burst and _drained(ctx, queue):
            return worked
        if error is None and not burst and not _redis_down(queue):
            log.error("worker loop ended unexpectedly; starting it again", extra={"action": "worker.restart"})
        delay = backoff.next() if (error is not None or _redis_down(queue)) else 0.2
        if delay > 0.2:
            log.warning(
                "redis unavailable, worker loop restarts in %.1fs",
                delay,
                extra={"action": "redis.unavailable", "retry_in_s": delay, "error": str(error)[:200]},
            )
        else:
            backoff.reset()
        time.sleep(delay)


def _redis_down(queue: Queue) -> bool:
    try:
        queue.connection.ping()
    except Exception:  # noqa: BLE001
        return True
    return False


def _drained(ctx: WorkerContext, queue: Queue) -> bool:
    """Burst mode is done when Redis answers, its queue is empty and the sweep finds nothing lost."""
    try:
        if queue.count:
            return False
        return requeue_stale(ctx.db, queue, ctx.settings.requeue_after_s) == 0
    except Exception as exc:  # noqa: BLE001
        if transient_reason(exc) is None:
            raise
        return False


def _sweep_loop(ctx: WorkerContext, queue: Queue, stop: threading.Event) -> None:
    interval = max(1.0, min(30.0, ctx.settings.requeue_after_s / 2))
    while not stop.wait(interval):
        try:
            requeue_stale(ctx.db, queue, ctx.settings.requeue_after_s)
            refresh_state_gauges(ctx.db, queue)
        except Exception as exc:  # noqa: BLE001 - the sweeper must outlive a Redis or Postgres restart
            reason = transient_reason(exc)
            log.warning(
                "sweep failed",
                exc_info=reason is None,
                extra={"action": f"{reason}.unavailable" if reason else "sweep.error", "during": "sweep"},
            )


def _child(settings_json: str, burst: bool, index: int) -> None:
    settings = Settings.model_validate_json(settings_json)
    run_worker(settings, burst=burst, index=index)


def run_pool(settings: Settings, processes: int, *, burst: bool = False) -> Sequence[int]:
    """Start ``processes`` worker processes and wait for them; returns their exit codes."""
    ctx = mp.get_context("spawn")  # torch and fork do not mix
    procs = [
        ctx.Process(target=_child, args=(settings.model_dump_json(), burst, i), name=f"lootwatch-worker-{i}")
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
