"""An index built with a gallery fine-tune carries its descriptor: workers swap to it with the index,
a restarted worker starts on it, and a later plain build swaps them back."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from lootwatch.matcher.store import DESCRIPTOR_FILE, live_descriptor_spec, live_views
from lootwatch.matcher.views import GalleryViews
from lootwatch.models.card import card_version
from lootwatch.workers.engine import MatchEngine
from PIL import Image

from lootwatch.core.db import Database
from lootwatch.indexing import build_and_publish, describe_levels
from tests.integration.pipeline_helpers import coil_view, make_pipeline, restaged

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


@pytest.mark.timeout(300)
def test_fine_tuned_index_brings_its_descriptor_to_the_workers(
    db: Database, redis_url: str, tmp_path: Path, shared_dir: Path
) -> None:
    settings = make_pipeline(db, redis_url, tmp_path, shared_dir)  # plain index of ART-002/005/009
    engine = MatchEngine(settings.descriptor, settings.index_dir)
    plain = engine.model_version
    said: list[str] = []

    tuned = build_and_publish(
        db, settings.model_copy(update={"fine_tune_folds": 2}), progress=False, fine_tune_steps=1, say=said.append
    )
    version_dir = settings.index_dir / tuned.version
    assert (version_dir / DESCRIPTOR_FILE).is_file()
    assert live_descriptor_spec(settings.index_dir, settings.descriptor) == str(version_dir / DESCRIPTOR_FILE)
    # three artefacts: two folds would train one of them on a single artefact, so each is held out alone
    assert "cross-fitted over 3 folds" in tuned.calibration["queries"]
    assert tuned.calibration["fine_tuned"]["steps"] == 1 and tuned.threshold is not None
    assert sum("fine-tuning" in s for s in said) == 4
    # the gallery was embedded at the configured scales, and the version says so for later additions
    assert tuned.views == GalleryViews(settings.gallery_scales, settings.gallery_mirror)
    assert live_views(settings.index_dir) == tuned.views and not tuned.views.plain

    # two levels, the estimate behind each printed by `index build`
    assert tuned.notify_threshold is not None and tuned.notify_threshold >= tuned.threshold
    notify_line, review_line = describe_levels(tuned.calibration)
    assert notify_line.startswith("notify threshold") and "expected false alerts" in notify_line
    assert review_line.startswith("review threshold") and "expected recall" in review_line

    assert engine.reload_if_changed(force=True)
    assert engine.model_version == card_version(tuned.card) != plain
    assert engine.notify_threshold(settings) == max(engine.alert_threshold(settings), tuned.notify_threshold)
    assert engine.notify_threshold(settings.model_copy(update={"notify_threshold": 5.0})) == 5.0
    listing = Image.open(io.BytesIO(restaged(coil_view(shared_dir, 5, 20), seed=3))).convert("RGB")
    assert engine.match([listing])[0][0].artefact_id == "ART-005"
    # a restarted worker starts on the live version's descriptor
    assert MatchEngine(settings.descriptor, settings.index_dir).model_version == engine.model_version

    build_and_publish(db, settings, progress=False, fine_tune_steps=0)
    assert engine.reload_if_changed(force=True)
    assert engine.model_version == plain
