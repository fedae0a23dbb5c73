"""MatchEngine with a live classifier: fused scores, following CURRENT, keeping the last good version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from lootwatch.matcher.fused_scores import fused_matrix
from lootwatch.matcher.index import GalleryIndex
from lootwatch.matcher.store import publish
from lootwatch.workers.engine import Hit, MatchEngine
from PIL import Image

from lootwatch.core.settings import Settings
from tests.fixtures.models.tiny_classifier import publish_tiny_classifier

DESCRIPTOR = "imagenet-lite0-gem"
OBJECTS = {"A1": 2, "A2": 3, "A3": 4}


def _view(shared: Path, obj: int, angle: int) -> Image.Image:
    return Image.open(shared / "data" / "coil100-train" / f"obj{obj:03d}" / f"{angle:03d}.png").convert("RGB")


def _scores(hit: Hit) -> dict[str, Any]:
    assert hit.scores is not None
    return hit.scores


def _publish_classifier(root: Path, version: str, classes: list[str], descriptor: str, seed: int, **card: Any) -> None:
    fusion = {"descriptor": descriptor, "rule": "logit", "weight": 0.5, "threshold": 0.7}
    publish_tiny_classifier(root, version, classes, seed=seed, fusion=fusion, **card)


@pytest.fixture(scope="module")
def engine_dirs(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[MatchEngine, Path]:
    from lootwatch.models.descriptor import load_descriptor

    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("engine")
    descriptor = load_descriptor(DESCRIPTOR)
    photos = [(a, _view(shared_dir, obj, angle)) for a, obj in OBJECTS.items() for angle in (0, 90, 180)]
    vectors = descriptor.embed([im for _, im in photos])
    index = GalleryIndex.from_vectors(descriptor.card, np.arange(1, len(photos) + 1), [a for a, _ in photos], vectors)
    publish(index, tmp / "index")
    return MatchEngine(DESCRIPTOR, tmp / "index", top_k=3), tmp / "classifier"


def test_fused_scores_follow_the_live_classifier_and_keep_the_last_good(
    engine_dirs: tuple[MatchEngine, Path], shared_dir: Path, settings: Settings
) -> None:
    engine, root = engine_dirs
    listing = [_view(shared_dir, 3, 45)]  # an unseen view of A2

    engine.follow_classifiers(root)  # nothing published yet: descriptor scores, as before
    plain = engine.match(listing)[0]
    assert engine.classifier is None and plain[0].artefact_id == "A2"
    assert plain[0].scores is not None and plain[0].scores["descriptor_contrast"] == plain[0].score
    assert engine.models_version == engine.model_version

    root.mkdir()
    _publish_classifier(root, "classifier-v1", ["A1", "A2"], engine.model_version, seed=1)
    assert engine.reload_if_changed(force=True)
    hits = engine.match(listing)[0]
    assert engine.models_version == f"{engine.model_version}+classifier-v1"
    by_id = {h.artefact_id: h for h in hits}
    assert set(by_id) == {"A1", "A2", "A3"} and [h.rank for h in hits] == [1, 2, 3]
    assert all(h.score == _scores(h)["fused"] for h in hits)
    a2 = _scores(by_id["A2"])
    assert a2["descriptor"] == pytest.approx(plain[0].scores["descriptor"], abs=1e-5)
    assert 0.0 < a2["descriptor_p"] < 1.0 and 0.0 <= a2["classifier"] <= 1.0
    # A3 is not known to this classifier yet: the descriptor alone speaks for it
    a3 = _scores(by_id["A3"])
    assert a3["classifier"] is None and a3["fused"] == pytest.approx(a3["descriptor_p"])
    # the calibration came from the gallery: genuine cosine -> higher probability than impostors
    assert a2["descriptor_p"] > max(_scores(by_id[a])["descriptor_p"] for a in ("A1", "A3"))
    # the version's fused threshold, not the index's cosine one
    assert engine.alert_threshold(settings) == 0.7
    assert engine.alert_threshold(settings) != engine.index.threshold

    # a broken new version (no calibrated threshold) is refused; v1 keeps serving
    (root / "classifier-v2").mkdir()
    (root / "classifier-v2" / "classifier.pt").write_bytes(b"not a checkpoint")
    (root / "CURRENT").write_text("classifier-v2\n")
    assert not engine.reload_if_changed(force=True)
    assert engine.classifier is not None and engine.classifier.version == "classifier-v1"

    # a good new version is picked up without a new engine
    _publish_classifier(root, "classifier-v3", ["A1", "A2", "A3"], engine.model_version, seed=2)
    assert engine.reload_if_changed(force=True)
    hits = engine.match(listing)[0]
    assert engine.models_version.endswith("+classifier-v3")
    assert all(_scores(h)["classifier"] is not None for h in hits)

    # photos are decoded large enough for every live model: a focusing classifier reads a crop of
    # the photo, so it asks for twice its side
    descriptor_side = max(engine.descriptor.card.input_size)
    assert engine.input_side == descriptor_side  # the 64 px classifier reads less than the descriptor
    _publish_classifier(root, "classifier-v4", ["A1", "A2", "A3"], engine.model_version, 4, input_size=(160, 160))
    assert engine.reload_if_changed(force=True) and engine.input_side == max(descriptor_side, 160)
    _publish_classifier(
        root, "classifier-v5", ["A1", "A2", "A3"], engine.model_version, 5, input_size=(160, 160), focus="object"
    )
    assert engine.reload_if_changed(force=True) and engine.input_side == max(descriptor_side, 320)


def test_a_classifier_calibrated_for_another_descriptor_is_refused(
    engine_dirs: tuple[MatchEngine, Path],
) -> None:
    engine, _ = engine_dirs
    other = engine_dirs[1].parent / "other-classifiers"
    other.mkdir()
    _publish_classifier(other, "classifier-x", ["A1", "A2", "A3"], "pan-000000000000", seed=3)
    before = engine.classifier.version if engine.classifier else None
    engine.follow_classifiers(other)
    assert (engine.classifier.version if engine.classifier else None) == before


def test_a_version_whose_held_out_check_chose_the_descriptor_is_not_fused(
    engine_dirs: tuple[MatchEngine, Path], shared_dir: Path, settings: Settings
) -> None:
    """fusion.json "use": "descriptor" (no threshold): loaded and recorded, but the worker scores,
    thresholds and decodes photos as with the descriptor alone."""
    engine, _ = engine_dirs
    root = engine_dirs[1].parent / "checked-classifiers"
    check = {"use": "descriptor", "weight": 0.0, "candidates": {"0": {"ap": 0.8}, "0.5": {"ap": 0.6}}}
    fusion = {"use": "descriptor", "descriptor": engine.model_version, "threshold": None, "fusion_check": check}
    publish_tiny_classifier(root, "declined", ["A1", "A2", "A3"], seed=8, fusion=fusion, input_size=(400, 400))
    engine.follow_classifiers(root)
    listing = [_view(shared_dir, 3, 45)]
    assert engine.classifier is not None and not engine.classifier.fuses
    assert engine.models_version == engine.model_version  # matches record the descriptor alone
    hits = engine.match(listing)[0]
    assert hits[0].artefact_id == "A2"
    assert all(set(_scores(h)) == {"descriptor", "descriptor_contrast"} for h in hits)
    assert engine.alert_threshold(settings) == engine.index.threshold
    assert engine.input_side == max(engine.descriptor.card.input_size)  # the 400 px classifier never runs


def test_fusion_keeps_descriptor_probability_for_unknown_artefacts() -> None:
    p = np.array([[0.9, 0.0]], dtype=np.float32)
    q = np.array([[0.8, 0.6]], dtype=np.float32)
    f = fused_matrix(p, q, np.array([True, False]), "logit", 0.5)
    assert f[0, 1] == pytest.approx(0.6)
    assert f[0, 0] == pytest.approx(1 / (1 + np.exp(-0.5 * (np.log(9) + np.log(4)))), rel=1e-5)


def test_an_ensemble_version_is_followed_as_one_classifier(
    engine_dirs: tuple[MatchEngine, Path], shared_dir: Path
) -> None:
    """classifier.pt + classifier-2.pt in one version folder: their calibrated softmax averaged."""
    from lootwatch.matcher.classifier_store import load_published, member_checkpoints
    from lootwatch.models.classifier import Ensemble, load_classifier

    engine, _ = engine_dirs
    root = engine_dirs[1].parent / "ensemble-classifiers"
    _publish_classifier(root, "ens", ["A1", "A2", "A3"], engine.model_version, seed=6)
    single = load_published(root / "ens")
    assert not isinstance(single, Ensemble)  # one checkpoint: the classifier itself
    second = root / "member-2"
    _publish_classifier(second, "v", ["A1", "A2", "A3"], engine.model_version, seed=7, input_size=(96, 96))
    (second / "v" / "classifier.pt").rename(root / "ens" / "classifier-2.pt")
    assert [p.name for p in member_checkpoints(root / "ens")] == ["classifier.pt", "classifier-2.pt"]

    engine.follow_classifiers(root)
    live = engine.classifier
    assert live is not None and isinstance(live.model, Ensemble) and len(live.model.members) == 2
    listing = [_view(shared_dir, 3, 45)]
    hits = engine.match(listing)[0]
    members = [load_classifier(p) for p in member_checkpoints(root / "ens")]
    mean = np.mean([m.predict_proba(listing) for m in members], axis=0)[0]
    for h in hits:
        assert _scores(h)["classifier"] == pytest.approx(float(mean[members[0].classes.index(h.artefact_id)]), abs=1e-5)
    assert engine.input_side == max(*engine.descriptor.card.input_size, 96)


def test_classifier_backbones_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().classifier_backbones == ("tf_efficientnet_lite0",)
    monkeypatch.setenv("LOOTWATCH_CLASSIFIER_BACKBONES", "tf_efficientnet_lite0, tf_efficientnet_lite2")
    assert Settings().classifier_backbones == ("tf_efficientnet_lite0", "tf_efficientnet_lite2")
    monkeypatch.setenv("LOOTWATCH_CLASSIFIER_BACKBONES", " , ")
    with pytest.raises(ValueError, match="at least one classifier backbone"):
        Settings()
