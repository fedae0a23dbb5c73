"""Classifier retraining waits on its own queue and runs on a training worker, never on the photo queue."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

from lootwatch.core.db import Database
from lootwatch.core.queueing import RETRAIN_JOB_ID, TRAINING_QUEUE, redis_connection, training_queue

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
TINY = {"epochs": 1, "input_size": 64, "views": 1}  # a real training, sized for a test


def _lootwatch(db: Database, redis_url: str, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LOOTWATCH_DATABASE_URL": db.url,
        "LOOTWATCH_REDIS_URL": redis_url,
        "LOOTWATCH_DATA_DIR": str(data),
        "LOOTWATCH_TORCH_THREADS": "1",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-c", "from lootwatch.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=data.parent,
        timeout=500,
    )


def test_gallery_import_queues_training_apart_and_the_training_worker_runs_it(
    db: Database, redis_url: str, shared_dir: Path, tmp_path: Path
) -> None:
    gallery = tmp_path / "gallery"
    for artefact, obj in {"A1": "obj002", "A2": "obj003", "A3": "obj004"}.items():
        (gallery / artefact).mkdir(parents=True)
        for angle in ("000", "090", "180", "270"):
            shutil.copy(shared_dir / "data" / "coil100-train" / obj / f"{angle}.png", gallery / artefact)
    data = tmp_path / "data"

    imported = _lootwatch(db, redis_url, data, "gallery", "import", str(gallery))
    assert imported.returncode == 0, imported.stderr
    assert f"classifier retraining queued on the '{TRAINING_QUEUE}' queue" in imported.stdout
    assert "lootwatch worker --queue training" in imported.stdout
    photos = Queue("photos", connection=redis_connection(redis_url), serializer=JSONSerializer)
    assert photos.count == 0  # a photo worker never picks up a training
    queue = training_queue(redis_url)
    assert queue.job_ids == [RETRAIN_JOB_ID]

    status = _lootwatch(db, redis_url, data, "status")
    assert status.returncode == 0, status.stderr
    line = next(x for x in status.stdout.splitlines() if x.startswith("training queue:"))
    assert line.startswith(f"training queue: 1 waiting; {RETRAIN_JOB_ID} queued")
    assert "gallery import: 3 artefacts and 12 photos added" in line
    assert "no training worker is running (start `lootwatch worker --queue training`)" in line

    # the queued job trains at full size; the same job, sized for a test, is what the worker runs here
    Job.fetch(RETRAIN_JOB_ID, connection=queue.connection, serializer=queue.serializer).delete()
    from lootwatch.matcher.classifier_store import current_version

    from lootwatch.core.queueing import enqueue_retrain

    assert enqueue_retrain(queue, "test: tiny training", **TINY) is not None
    worked = _lootwatch(db, redis_url, data, "worker", "--queue", "training", "--burst")
    assert worked.returncode == 0, worked.stderr[-3000:]
    job = Job.fetch(RETRAIN_JOB_ID, connection=queue.connection, serializer=queue.serializer)
    assert job.get_status() == "finished", job.latest_result()
    result = job.return_value()
    assert result is not None and result["status"] == "published" and result["classes"] == 3
    from lootwatch.core.settings import Settings

    assert current_version(Settings(data_dir=data)) == result["version"]
    assert queue.count == 0
    after = _lootwatch(db, redis_url, data, "status")
    assert f"training queue: 0 waiting; {RETRAIN_JOB_ID} finished" in after.stdout
