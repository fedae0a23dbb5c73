"""The alert rule on matches the real worker wrote (real photos, descriptor, FAISS index):
agreeing photos, the geometric check and relisting links, as ``decide_alerts`` sees them."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import torch

from alerts.rules import AlertRules, decide_alerts
from lootwatch.db import Database
from lootwatch.gallery import import_gallery
from lootwatch.indexing import build_and_publish
from lootwatch.settings import Settings
from lootwatch.storage import BlobStore
from tests.integration.pipeline_helpers import add_listing, coil_view, restaged

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

PROTECTED = (2, 5, 9)  # coil100-train objects registered as protected


def test_rule_on_real_matches(db: Database, redis_url: str, tmp_path: Path, shared_dir: Path) -> None:
    from workers.context import WorkerContext, install
    from workers.engine import MatchEngine
    from workers.matching import match_batch

    torch.set_num_threads(1)
    gallery = tmp_path / "gallery"
    for obj in PROTECTED:
        for angle in (0, 90, 180, 270):
            dest = gallery / f"ART-{obj:03d}" / f"{angle:03d}.png"
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(coil_view(shared_dir, obj, angle).read_bytes())
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=db.url,
        redis_url=redis_url,
        queue_name=f"test-{uuid.uuid4().hex[:8]}",
        descriptor="imagenet-lite0-gem",
        alert_threshold=2.0,  # the worker's own rule opens nothing: decide_alerts below decides
        slack_webhook_url="http://127.0.0.1:9/hook",
    )
    store = BlobStore(settings.store_dir)
    import_gallery(db, store, gallery, max_bytes=10**7, max_pixels=10**7)
    index = build_and_publish(db, settings, progress=False)
    assert index.threshold is not None

    def photos(obj: int, *angles: int) -> list[bytes]:
        return [restaged(coil_view(shared_dir, obj, a), seed=a) for a in angles]

    two_views, _ = add_listing(db, settings, "two-views", photos(5, 40, 50))
    relist, _ = add_listing(db, settings, "relist", photos(5, 40))  # the same photo again
    same_view, _ = add_listing(db, settings, "same-view", photos(9, 90))  # one photo, gallery's view
    unprotected, _ = add_listing(db, settings, "unprotected", photos(14, 40))
    engine = MatchEngine(settings.descriptor, settings.index_dir)
    ctx = WorkerContext(settings, db, store, engine)
    install(ctx)
    ids = [r["id"] for r in db.fetchall("SELECT id FROM listing_photos ORDER BY id")]
    for pid in ids:
        match_batch(ctx, pid)
    assert db.fetchall("SELECT id FROM review_items") == []

    rules = AlertRules(threshold=index.threshold, min_agreeing_photos=2)
    with db.transaction() as conn:
        opened = decide_alerts(conn, ids, engine.index_version, settings, index.threshold, rules=rules)
    items = {(r["listing_id"], r["artefact_id"]): r for r in db.fetchall("SELECT * FROM review_items")}
    assert sorted(opened) == sorted(r["id"] for r in items.values())
    assert items[(two_views, "ART-005")]["rule_evidence"]["passed_by"] == "photos"
    assert items[(same_view, "ART-009")]["rule_evidence"]["passed_by"] == "geometry"
    assert not any(listing in (unprotected, relist) for listing, _ in items)
    links = db.fetchall("SELECT review_item_id, listing_id FROM alert_links")
    assert links == [{"review_item_id": items[(two_views, "ART-005")]["id"], "listing_id": relist}]
    notices = db.fetchall("SELECT review_item_id FROM notifications")
    assert sorted(n["review_item_id"] for n in notices) == sorted(opened)
