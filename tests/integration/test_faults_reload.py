"""A new index version published while a worker runs is used by its next batch (no restart)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from lootwatch.matcher.store import current_version

from lootwatch.cli.status import collect, render
from lootwatch.core.db import Database
from lootwatch.core.settings import Settings
from lootwatch.core.storage import BlobStore
from lootwatch.gallery import import_gallery
from lootwatch.indexing import build_and_publish
from tests.integration.pipeline_helpers import add_listing, coil_view, make_pipeline, restaged, worker_context

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def _serve(settings_json: str) -> None:
    from lootwatch.workers.process import run_worker

    run_worker(Settings.model_validate_json(settings_json), burst=False)


def _versions_of(db: Database, listing_photos: list[int]) -> set[str]:
    rows = db.fetchall("SELECT DISTINCT index_version FROM matches WHERE photo_id = ANY(%s)", (listing_photos,))
    return {r["index_version"] for r in rows}


def _wait_matched(db: Database, ids: list[int], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = db.fetchone("SELECT count(*) AS n FROM listing_photos WHERE id = ANY(%s) AND status = 'matched'", (ids,))
        if n and n["n"] == len(ids):
            return
        time.sleep(0.1)
    raise AssertionError("photos were not matched in time")


@pytest.mark.timeout(300)
def test_worker_uses_a_newly_published_index_on_its_next_batch(
    db: Database, redis_url: str, tmp_path: Path, shared_dir: Path
) -> None:
    settings = make_pipeline(db, redis_url, tmp_path, shared_dir)
    v1 = current_version(settings.index_dir)
    worker = worker_context().Process(target=_serve, args=(settings.model_dump_json(),))
    worker.start()
    try:
        _, first = add_listing(db, settings, "before", [restaged(coil_view(shared_dir, 14, 45), seed=1)])
        _wait_matched(db, first)
        checked_by = time.monotonic()  # the worker last looked for a new CURRENT before it scored that batch
        assert _versions_of(db, first) == {v1}
        assert not db.fetchall("SELECT id FROM review_items")  # object 14 is not protected yet

        # object 14 is registered as protected: a new index version is published
        gallery = tmp_path / "gallery2" / "ART-014"
        gallery.mkdir(parents=True)
        for angle in (0, 90, 180, 270):
            (gallery / f"{angle:03d}.png").write_bytes(coil_view(shared_dir, 14, angle).read_bytes())
        import_gallery(db, BlobStore(settings.store_dir), gallery.parent, max_bytes=10**7, max_pixels=10**7)
        build_and_publish(db, settings, progress=False)
        v2 = current_version(settings.index_dir)
        assert v2 != v1
        # the engine looks for a new CURRENT at most every 5 s, before scoring a batch (none since `first`):
        # 5.5 s after that batch the next one looks (the import and build above took most of them)
        time.sleep(max(0.0, checked_by + 5.5 - time.monotonic()))

        _, second = add_listing(db, settings, "after", [restaged(coil_view(shared_dir, 14, 50), seed=2)])
        _wait_matched(db, second)
        assert worker.is_alive()
        print(f"\nreload: before={_versions_of(db, first)} after={_versions_of(db, second)}")
        assert _versions_of(db, second) == {v2}
        items = db.fetchall("SELECT artefact_id FROM review_items")
        assert [r["artefact_id"] for r in items] == ["ART-014"]

        text = render(collect(settings, db, settings.redis_url or ""))
        print(text)
        assert f"index: {v2}" in text and "matched 2" in text and "new 1" in text
    finally:
        os.kill(worker.pid or 0, signal.SIGTERM)
        worker.join(timeout=60)
    assert worker.exitcode == 0
