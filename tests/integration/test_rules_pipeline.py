"""The alert rule on matches the real worker wrote (real photos, descriptor, FAISS index):
agreeing photos, the geometric check and relisting links, as ``decide_alerts`` sees them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lootwatch.alerts.rules import AlertRules, decide_alerts

from lootwatch.core.db import Database
from lootwatch.core.storage import BlobStore
from tests.integration.pipeline_helpers import add_listing, coil_view, make_pipeline, restaged

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

PROTECTED = (2, 5, 9)  # coil100-train objects registered as protected


def test_rule_on_real_matches(db: Database, redis_url: str, tmp_path: Path, shared_dir: Path) -> None:
    from lootwatch.workers.context import WorkerContext, install
    from lootwatch.workers.engine import MatchEngine
    from lootwatch.workers.matching import match_batch

    torch.set_num_threads(1)
    # the worker's own rule opens nothing (threshold 2.0): decide_alerts below decides
    settings = make_pipeline(db, redis_url, tmp_path, shared_dir, alert_threshold=2.0, email_to=[], smtp_host=None)
    store = BlobStore(settings.store_dir)
    from lootwatch.matcher.store import load_current

    index = load_current(settings.index_dir)
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
