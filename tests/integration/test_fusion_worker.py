"""Worker + live instance classifier: fused scores on real photos, a new classifier version picked
up without a restart, and `lootwatch gallery import` queueing the retraining."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import torch

from lootwatch.core.db import Database
from lootwatch.core.queueing import photo_queue, training_queue
from lootwatch.core.settings import Settings
from lootwatch.core.storage import BlobStore
from lootwatch.gallery import import_gallery
from lootwatch.indexing import build_and_publish
from tests.integration.pipeline_helpers import add_listing, coil_view, restaged

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

# a real training, sized for a test; "always": this test is about the fused path, which the
# held-out check would (rightly) decline for a 2-epoch 64 px classifier
TINY = {"epochs": 2, "input_size": 64, "views": 1, "fusion": "always"}
ROOT = Path(__file__).resolve().parents[2]


def _gallery(root: Path, shared: Path, objects: dict[str, int]) -> Path:
    for artefact, obj in objects.items():
        (root / artefact).mkdir(parents=True)
        for angle in (0, 90, 180, 270):
            shutil.copy(coil_view(shared, obj, angle), root / artefact / f"{angle:03d}.png")
    return root


def _drain(queue) -> None:  # noqa: ANN001 - rq.Queue
    from rq import SimpleWorker

    SimpleWorker([queue], connection=queue.connection, serializer=queue.serializer).work(burst=True)


def _matches(db: Database, photo_ids: list[int]) -> list[dict]:
    return db.fetchall("SELECT * FROM matches WHERE photo_id = ANY(%s) ORDER BY photo_id, rank", (photo_ids,))


def _cli_import(settings: Settings, folder: Path) -> str:
    env = {
        **os.environ,
        "LOOTWATCH_DATA_DIR": str(settings.data_dir),
        "LOOTWATCH_DATABASE_URL": settings.database_url or "",
        "LOOTWATCH_REDIS_URL": settings.redis_url or "",
        "LOOTWATCH_QUEUE_NAME": settings.queue_name,
    }
    code = "from lootwatch.cli import main; main()"
    out = subprocess.run(
        [sys.executable, "-c", code, "gallery", "import", str(folder)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


@pytest.mark.timeout(600)
def test_worker_fuses_the_live_classifier_and_follows_new_versions(
    db: Database, redis_url: str, tmp_path: Path, shared_dir: Path
) -> None:
    from lootwatch.matcher.classifier_store import classifier_root, current_version
    from lootwatch.workers.context import WorkerContext, install
    from lootwatch.workers.engine import MatchEngine

    from lootwatch.core.queueing import RETRAIN_JOB_ID as JOB_ID
    from lootwatch.core.queueing import enqueue_retrain

    torch.set_num_threads(1)
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=db.url,
        redis_url=redis_url,
        queue_name=f"fusion-{uuid.uuid4().hex[:8]}",
        descriptor="imagenet-lite0-gem",
        fine_tune_steps=0,
        batch_size=4,
    )
    store = BlobStore(settings.store_dir)
    import_gallery(
        db,
        store,
        _gallery(tmp_path / "g1", shared_dir, {"A1": 2, "A2": 3, "A3": 4}),
        max_bytes=10**7,
        max_pixels=10**7,
    )
    build_and_publish(db, settings, progress=False)
    queue = photo_queue(redis_url, settings.queue_name)
    engine = MatchEngine(settings.descriptor, settings.index_dir)
    install(WorkerContext(settings, db, store, engine))

    # the retraining job, run by the worker, publishes v1 with its calibrated fused threshold
    assert enqueue_retrain(queue, "initial gallery", **TINY) is not None
    listing_a2, first = add_listing(db, settings, "a2", [restaged(coil_view(shared_dir, 3, 45), seed=1)])
    _, stranger = add_listing(db, settings, "x", [restaged(coil_view(shared_dir, 14, 40), seed=2)])
    _drain(queue)  # retrain first (queued first), then the photos
    first_checked = time.monotonic()  # the engine looked for new versions while scoring those photos
    v1 = current_version(settings)
    assert v1 is not None
    fusion = json.loads((classifier_root(settings) / v1 / "fusion.json").read_text())
    print(
        f"\nv1 fusion: threshold {fusion['threshold']:.3f} ({fusion['threshold_rule']}), "
        f"genuine q50 {fusion['genuine']['q50']:.3f}, impostor q95 {fusion['impostor']['q95']:.3f}"
    )
    assert fusion["descriptor"] == engine.model_version and 0.0 < fusion["threshold"] < 1.0
    assert fusion["queries"] == "restaged gallery photos" and fusion["n_queries"] == 2 * 12
    # the held-out check ran and is recorded, though "always" fuses at the default weight
    assert fusion["use"] == "fusion" and fusion["mode"] == "always" and fusion["weight"] == 0.5
    assert set(fusion["fusion_check"]["candidates"]) == {"0", "0.5", "1"}

    rows = _matches(db, first + stranger)
    assert rows and all(r["model_version"] == f"{engine.model_version}+{v1}" for r in rows)
    for r in rows:
        assert set(r["scores"]) == {"descriptor", "descriptor_p", "classifier", "fused"}
        assert r["score"] == pytest.approx(r["scores"]["fused"]) and r["scores"]["classifier"] is not None
    best = rows[0]
    print(f"A2 listing: rank-1 {best['artefact_id']} scores {best['scores']}")
    print(f"stranger: rank-1 {rows[len(rows) // 2]['artefact_id']} scores {rows[len(rows) // 2]['scores']}")
    assert best["photo_id"] == first[0] and best["artefact_id"] == "A2"
    items = db.fetchall("SELECT listing_id, artefact_id, score FROM review_items")
    print(f"review items: {items}")
    # the fused threshold (gallery-calibrated, unknown-object impostors) lets the protected object
    # through and keeps the unprotected one out, though the classifier is sure of both
    assert [(r["listing_id"], r["artefact_id"]) for r in items] == [(listing_a2, "A2")]
    assert items[0]["score"] >= fusion["threshold"] > max(r["score"] for r in rows if r["photo_id"] in stranger)

    # a new artefact through the CLI: it queues the retraining, matching keeps v1 meanwhile
    out = _cli_import(settings, _gallery(tmp_path / "g2", shared_dir, {"A4": 5}))
    assert "classifier retraining queued" in out, out
    queued = training_queue(redis_url).fetch_job(JOB_ID)  # the CLI queues on the training queue
    assert queued is not None and "1 artefacts" in (queued.args[0] if queued.args else "")
    queued.delete()  # the CLI's job trains at full size; the test runs the same job at TINY size
    build_and_publish(db, settings, progress=False)
    _, during = add_listing(db, settings, "a4-early", [restaged(coil_view(shared_dir, 5, 45), seed=3)])
    # the engine looks for a new index at most every 5 s: past that, this batch is scored on the one with A4
    time.sleep(max(0.0, first_checked + 5.5 - time.monotonic()))
    _drain(queue)
    checked_by = time.monotonic()  # the engine last looked for a new version before scoring that batch
    early = _matches(db, during)
    assert all(r["model_version"].endswith(f"+{v1}") for r in early)
    a4 = next(r for r in early if r["artefact_id"] == "A4")
    assert a4["scores"]["classifier"] is None  # v1 does not know A4: the descriptor speaks for it
    assert a4["score"] == pytest.approx(a4["scores"]["descriptor_p"])

    assert enqueue_retrain(queue, "artefact A4 added", **TINY) is not None
    _drain(queue)
    v2 = current_version(settings)
    assert v2 is not None and v2 != v1
    # the engine looks for a new CURRENT at most every 5 s, before scoring a batch (none since `during`'s):
    # 5.5 s after that one the next batch looks (the retraining above took most of them)
    time.sleep(max(0.0, checked_by + 5.5 - time.monotonic()))
    _, after = add_listing(db, settings, "a4", [restaged(coil_view(shared_dir, 5, 50), seed=4)])
    _drain(queue)
    late = _matches(db, after)
    assert late and all(r["model_version"] == f"{engine.model_version}+{v2}" for r in late)
    a4 = next(r for r in late if r["artefact_id"] == "A4")
    print(f"A4 listing under v2: rank {a4['rank']} scores {a4['scores']}")
    assert a4["scores"]["classifier"] is not None and a4["rank"] == 1
