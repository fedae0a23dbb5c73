"""Awkward and hostile photo bytes reaching a worker: odd images matched, bad ones rejected with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lootwatch.core.db import Database
from lootwatch.core.storage import BlobStore
from tests.fixtures.bad_inputs.corpus import BAD_IMAGES, BAD_REASONS, LATE_BAD_IMAGES, LATE_BAD_REASONS, ODD_IMAGES
from tests.integration.pipeline_helpers import make_pipeline
from tests.integration.test_faults_support import insert_raw_photo

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_worker_matches_odd_images_and_rejects_bad_bytes(
    db: Database, redis_url: str, tmp_path: Path, shared_dir: Path
) -> None:
    from lootwatch.workers.context import WorkerContext
    from lootwatch.workers.engine import MatchEngine
    from lootwatch.workers.matching import match_batch

    torch.set_num_threads(1)
    settings = make_pipeline(db, redis_url, tmp_path, shared_dir, batch_size=32)
    odd = {name: insert_raw_photo(db, settings, name, make()) for name, make in ODD_IMAGES.items()}
    # LATE_BAD_IMAGES pass the crawler's header checks: the worker is the first to decode them
    bad = {
        name: insert_raw_photo(db, settings, name, make()) for name, make in {**BAD_IMAGES, **LATE_BAD_IMAGES}.items()
    }
    reasons = {**BAD_REASONS, **LATE_BAD_REASONS}
    gone = insert_raw_photo(db, settings, "file-gone", b"x")
    row = db.fetchone("SELECT stored_path FROM listing_photos WHERE id = %s", (gone,))
    assert row is not None
    (settings.store_dir / row["stored_path"]).unlink()

    ctx = WorkerContext(
        settings, db, BlobStore(settings.store_dir), MatchEngine(settings.descriptor, settings.index_dir)
    )
    first = min([*odd.values(), *bad.values(), gone])
    result = match_batch(ctx, first)  # one batch takes every queued photo
    assert result.batch == len(odd) + len(bad) + 1

    rows = {r["id"]: r for r in db.fetchall("SELECT id, status, reason, phash FROM listing_photos")}
    for name, pid in odd.items():  # the crawler stores no perceptual hash: the worker, which decodes, does
        assert rows[pid]["status"] == "matched" and len(rows[pid]["phash"]) == 16, (name, rows[pid])
    for name, pid in bad.items():
        assert rows[pid]["status"] == "rejected" and reasons[name] in rows[pid]["reason"].lower(), name
    assert rows[gone]["status"] == "rejected" and rows[gone]["reason"]
    matched = db.fetchall("SELECT DISTINCT photo_id FROM matches")
    assert {r["photo_id"] for r in matched} == set(odd.values())
    print(f"worker bad-input outcome: matched={len(odd)} rejected={len(bad) + 1} (of {result.batch})")
