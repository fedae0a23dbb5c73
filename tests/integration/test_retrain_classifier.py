"""Gallery changes -> the RQ job retrains the classifier and publishes a new version atomically."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from lootwatch.core.db import Database
from lootwatch.core.settings import Settings
from lootwatch.core.storage import BlobStore
from lootwatch.gallery import import_gallery

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

TINY: dict[str, Any] = {"epochs": 2, "input_size": 64, "views": 1}  # a real training, sized for a test


def _gallery(root: Path, coil: Path, objects: dict[str, str]) -> Path:
    """A folder per artefact, 4 real COIL views each."""
    for artefact, obj in objects.items():
        (root / artefact).mkdir(parents=True)
        for angle in ("000", "090", "180", "270"):
            shutil.copy(coil / obj / f"{angle}.png", root / artefact / f"{angle}.png")
    return root


def _import(db: Database, settings: Settings, folder: Path) -> None:
    import_gallery(db, BlobStore(settings.store_dir), folder, max_bytes=10**7, max_pixels=10**7)


def test_retrain_publishes_versions_and_keeps_the_last_good_one(
    db: Database, database_url: str, redis_url: str, settings: Settings, shared_dir: Path, tmp_path: Path
) -> None:
    from lootwatch.matcher.classifier_store import classifier_root, current_checkpoint, current_version
    from lootwatch.matcher.retrain import retrain
    from lootwatch.models.classifier import load_classifier

    from lootwatch.core.queueing import enqueue_retrain

    torch.set_num_threads(1)
    settings = settings.model_copy(update={"database_url": database_url, "redis_url": redis_url})
    coil = shared_dir / "data" / "coil100-train"
    _import(db, settings, _gallery(tmp_path / "g1", coil, {"A1": "obj002", "A2": "obj003", "A3": "obj004"}))
    assert current_checkpoint(settings) is None  # nothing published yet

    first = retrain(settings, db, "initial gallery", **TINY)
    assert first.status == "published" and first.classes == 3
    root = classifier_root(settings)
    assert (root / "CURRENT").read_text().strip() == first.version == current_version(settings)
    card = json.loads((root / first.version / "card.json").read_text())
    assert card["reason"] == "initial gallery" and card["classes"] == ["A1", "A2", "A3"]
    assert card["kind"] == "classifier" and card["previous"] is None
    assert load_classifier(root / first.version / "classifier.pt").classes == ["A1", "A2", "A3"]
    # whether the worker fuses was decided on held-out gallery views, and the numbers are kept:
    # the chosen weight has the best held-out AP of the three candidates (descriptor alone first)
    fusion = json.loads((root / first.version / "fusion.json").read_text())
    check = fusion["fusion_check"]
    assert fusion["mode"] == "auto" and check["n_views"] > 0
    best_ap = max(c["ap"] for c in check["candidates"].values())
    assert check["candidates"][f"{check['weight']:g}"]["ap"] == best_ap
    assert fusion["use"] == ("descriptor" if check["weight"] == 0 else "fusion")
    assert (fusion["threshold"] is None) == (fusion["use"] == "descriptor")
    assert load_classifier(root / first.version / "classifier.pt").card.extra["fusion_check"] == check

    # idempotent: the same gallery and settings train nothing
    again = retrain(settings, db, "initial gallery", **TINY)
    assert (again.status, again.version) == ("unchanged", first.version)

    # a new artefact: the RQ job (run by a real worker on Redis) publishes a 4-class version
    _import(db, settings, _gallery(tmp_path / "g2", coil, {"A4": "obj005"}))
    from lootwatch.workers.context import WorkerContext, install
    from rq import SimpleWorker

    from lootwatch.core.queueing import photo_queue

    queue = photo_queue(redis_url, "retrain-test")
    job = enqueue_retrain(queue, "artefact A4 added", **TINY)
    assert job is not None and enqueue_retrain(queue, "A4 again", **TINY) is None  # one waiting is enough
    # the retraining job needs settings and the database, not the match engine
    install(WorkerContext(settings, db, BlobStore(settings.store_dir), engine=None))  # type: ignore[arg-type]
    SimpleWorker([queue], connection=queue.connection, serializer=queue.serializer).work(burst=True)
    job.refresh()
    assert job.get_status() == "finished", job.latest_result()
    second = job.return_value()
    assert second is not None and second["status"] == "published" and second["classes"] == 4
    assert current_version(settings) == second["version"] != first.version
    assert (root / first.version / "classifier.pt").is_file()  # the old version stays for rollback
    assert json.loads((root / second["version"] / "card.json").read_text())["previous"] == first.version

    # a training that fails (a corrupt stored photo) never replaces the live version
    _import(db, settings, _gallery(tmp_path / "g3", coil, {"A5": "obj006"}))
    row = db.fetchone("SELECT stored_path FROM artefact_photos WHERE artefact_id = 'A5' LIMIT 1")
    assert row is not None
    (settings.store_dir / row["stored_path"]).write_bytes(b"not an image")
    with pytest.raises(Exception, match="identify|image"):
        retrain(settings, db, "artefact A5 added", **TINY)
    assert current_version(settings) == second["version"]
    assert not [p.name for p in root.iterdir() if p.name.startswith(".")]  # no staging or pointer left half-made


def test_several_backbones_publish_one_ensemble_version(
    db: Database, database_url: str, settings: Settings, shared_dir: Path, tmp_path: Path
) -> None:
    from lootwatch.matcher.classifier_store import classifier_root, load_published, member_checkpoints
    from lootwatch.matcher.retrain import retrain
    from lootwatch.models.classifier import Ensemble

    torch.set_num_threads(1)
    backbones = ("tf_efficientnet_lite0", "tf_efficientnet_lite1")
    settings = settings.model_copy(update={"database_url": database_url, "classifier_backbones": backbones})
    coil = shared_dir / "data" / "coil100-train"
    _import(db, settings, _gallery(tmp_path / "g1", coil, {"A1": "obj002", "A2": "obj003", "A3": "obj004"}))

    first = retrain(settings, db, "initial gallery", pretrained=False, **TINY)
    assert first.status == "published" and first.version.startswith("classifier-ensemble2-")
    folder = classifier_root(settings) / first.version
    assert [p.name for p in member_checkpoints(folder)] == ["classifier.pt", "classifier-2.pt"]
    clf = load_published(folder)
    assert isinstance(clf, Ensemble) and [m.card.backbone for m in clf.members] == list(backbones)
    card = json.loads((folder / "card.json").read_text())
    assert len(card["members"]) == 2 and card["classes"] == ["A1", "A2", "A3"]
    assert json.loads((folder / "fusion.json").read_text())["classifier"] == first.version
    # the same gallery and backbones: nothing to do (a single backbone is the test above)
    assert retrain(settings, db, "again", pretrained=False, **TINY).status == "unchanged"
