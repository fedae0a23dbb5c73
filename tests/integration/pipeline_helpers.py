"""Helpers for integration tests that drive the match pipeline with real servers and real photos."""

from __future__ import annotations

import io
import multiprocessing as mp
import uuid
from multiprocessing import forkserver
from pathlib import Path
from typing import Any

from PIL import Image, ImageEnhance

from lootwatch.core.db import Database
from lootwatch.core.images import vet_image
from lootwatch.core.queueing import enqueue_photo, photo_queue
from lootwatch.core.settings import Settings
from lootwatch.core.storage import BlobStore
from lootwatch.gallery import import_gallery
from lootwatch.indexing import build_and_publish


def coil_view(shared: Path, obj: int, angle: int) -> Path:
    return shared / "data" / "coil100-train" / f"obj{obj:03d}" / f"{angle:03d}.png"


def restaged(path: Path, seed: int) -> bytes:
    """A listing-style JPEG of a gallery-like photo: other light, slight crop, recompressed."""
    img = Image.open(path).convert("RGB")
    w, h = img.size
    img = img.crop((seed % 5, seed % 7, w - seed % 3, h - seed % 4)).resize((160, 160))
    img = ImageEnhance.Brightness(img).enhance(1.0 + 0.05 * (seed % 3))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def add_listing(
    db: Database, settings: Settings, item_id: str, photos: list[bytes], *, source: str = "test-site"
) -> tuple[int, list[int]]:
    """Store a listing and its photos as the crawler does, and queue each new photo once."""
    store = BlobStore(settings.store_dir)
    queue = photo_queue(settings.redis_url or "", settings.queue_name)
    photo_ids = []
    with db.transaction() as conn:
        src = conn.execute(
            "INSERT INTO sources (name) VALUES (%s) ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
            (source,),
        ).fetchone()
        listing = conn.execute(
            """INSERT INTO listings (source_id, url, item_id, title) VALUES (%s, %s, %s, %s) RETURNING id""",
            (src["id"], f"http://127.0.0.1/lot/{item_id}", item_id, f"lot {item_id}"),  # type: ignore[index]
        ).fetchone()
        new = []
        for pos, data in enumerate(photos):
            sha, rel = store.put("photos", data, ".jpg")
            vetted = vet_image(data)
            row = conn.execute(
                """INSERT INTO listing_photos (sha256, source_url, phash, stored_path, bytes, width, height)
                   VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (sha256) DO NOTHING RETURNING id""",
                (sha, f"http://127.0.0.1/p/{sha}.jpg", vetted.phash, rel, len(data), vetted.width, vetted.height),
            ).fetchone()
            if row is None:
                row = conn.execute("SELECT id FROM listing_photos WHERE sha256 = %s", (sha,)).fetchone()
            else:
                new.append((row["id"], sha))
            conn.execute(
                "INSERT INTO listing_photo_links (listing_id, photo_id, position) VALUES (%s, %s, %s)",
                (listing["id"], row["id"], pos),  # type: ignore[index]
            )
            photo_ids.append(row["id"])  # type: ignore[index]
    for pid, sha in new:  # after commit: a worker must find the row it is told about
        enqueue_photo(queue, pid, sha)
    return listing["id"], photo_ids  # type: ignore[index]


PROTECTED = (2, 5, 9)  # coil100-train objects registered as protected, as ART-002, ART-005, ART-009


def make_pipeline(db: Database, redis_url: str, tmp_path: Path, shared_dir: Path, **overrides: Any) -> Settings:
    """Settings on tmp_path with a published index of the PROTECTED coil objects (4 views each)."""
    gallery = tmp_path / "gallery"
    for obj in PROTECTED:
        for angle in (0, 90, 180, 270):
            dest = gallery / f"ART-{obj:03d}" / f"{angle:03d}.png"
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(coil_view(shared_dir, obj, angle).read_bytes())
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": db.url,
        "redis_url": redis_url,
        "queue_name": f"test-{uuid.uuid4().hex[:8]}",
        "descriptor": "imagenet-lite0-gem",
        "fine_tune_steps": 0,  # the configured descriptor as it is (test_index_fine_tune covers tuning)
        "batch_size": 4,
        "requeue_after_s": 0.5,
        "email_to": ["police@example.org"],
        "slack_webhook_url": "http://127.0.0.1:9/hook",
        "smtp_host": "127.0.0.1",
    }
    settings = Settings(**{**values, **overrides})
    import_gallery(db, BlobStore(settings.store_dir), gallery, max_bytes=10**7, max_pixels=10**7)
    publish_gallery_index(db, settings)
    return settings


# Indexes built by publish_gallery_index in this session, by what they were built from.
_BUILT: dict[tuple[object, ...], Any] = {}


def publish_gallery_index(db: Database, settings: Settings) -> None:
    """``build_and_publish`` of the gallery in ``db``; the same gallery (same photo ids, artefacts and
    bytes) under the same index settings is embedded once a session and published again as a new version.

    Embedding and calibrating the 12 PROTECTED photos takes about 5 s of each test that sets up a pipeline.
    """
    from lootwatch.matcher.store import publish

    rows = db.fetchall(
        """SELECT p.id, p.artefact_id, p.sha256 FROM artefact_photos p
           JOIN artefacts a ON a.id = p.artefact_id WHERE a.removed_at IS NULL ORDER BY p.id"""
    )
    key = (
        settings.descriptor,
        settings.fine_tune_steps,
        settings.score_contrast,
        tuple(settings.gallery_scales),
        settings.gallery_mirror,
        settings.max_photo_bytes,
        settings.max_photo_pixels,
        tuple((r["id"], r["artefact_id"], r["sha256"]) for r in rows),
    )
    built = _BUILT.get(key)
    if built is None or settings.fine_tune_steps:
        _BUILT[key] = build_and_publish(db, settings, progress=False)
    else:
        publish(built, settings.index_dir)  # restamped: a version of its own, as a fresh build gets


def _worker_main(settings_json: str) -> None:
    from lootwatch.workers.process import run_worker

    run_worker(Settings.model_validate_json(settings_json), burst=True)


# What a worker process imports before it can load its model: about 5 s of a worker's start-up on a
# small CPU, paid once by a fork server instead of by every worker a test starts (the kill test starts
# 21). The server only imports (no torch op runs there, so no thread pool is forked); each worker is a
# fresh child of it that builds its own context (model, index, connections) as a spawned one does.
WORKER_PRELOAD = [
    "torch",
    "timm",
    "faiss",
    "rq",
    "lootwatch.workers.process",
    "lootwatch.workers.jobs",
    "lootwatch.workers.matching",
    "lootwatch.models.descriptor",
    "lootwatch.matcher.index",
    "lootwatch.matcher.store",
    "lootwatch.alerts.outbox",
    "tests.integration.pipeline_helpers",
]


def worker_context() -> mp.context.ForkServerContext:
    """A multiprocessing context whose processes start from a fork server with WORKER_PRELOAD imported."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(WORKER_PRELOAD)  # takes effect when the (one, per session) server starts
    forkserver.ensure_running()  # returns at once: the server imports while the caller goes on
    return ctx


def start_worker(settings: Settings) -> mp.process.BaseProcess:
    proc = worker_context().Process(target=_worker_main, args=(settings.model_dump_json(),))
    proc.start()
    return proc
