"""`lootwatch eval --classifier`: classifier alone, descriptor alone and their fusion from one run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from lootwatch.matcher.benchmark import read_benchmark
from lootwatch.matcher.evaluate import BenchImages
from lootwatch.matcher.fusion import RULES, classification_tables, classifier_runs, fuse
from lootwatch.models.classifier import load_classifiers

from tests.unit.matcher.test_evaluate import run_cli


def _tiny_classifier(bench: Path, out: Path) -> Path:
    """2 epochs at 64 px on the tiny benchmark's GALLERY photos: a real, if weak, checkpoint."""
    from lootwatch.models.classifier_train import TrainConfig, train_classifier

    torch.set_num_threads(1)
    cfg = TrainConfig(
        pretrained=False,
        input_size=(64, 64),
        min_images=2,
        views_per_photo=1,
        val_views_per_photo=1,
        epochs=2,
        batch_size=8,
    )
    return train_classifier(bench / "gallery.csv", out, cfg, progress=False).checkpoint


def test_fusion_rules_on_calibrated_scores() -> None:
    p = np.array([[0.9, 0.1], [0.9, 0.1]], dtype=np.float32)
    q = np.array([[0.9, 0.1], [0.1, 0.9]], dtype=np.float32)
    assert set(RULES) == {"mean", "geometric", "logit"}
    mean = fuse(p, q, 0.5, "mean")
    assert np.allclose(mean, [[0.9, 0.1], [0.5, 0.5]])
    pooled = fuse(p, q, 0.5, "logit")
    assert np.isclose(pooled[0, 0], 0.9) and pooled[0, 1] < 0.11  # agreeing experts keep their odds
    assert np.allclose(pooled[1], 0.5, atol=1e-6)  # a confident "no" cancels a confident "yes"
    assert np.allclose(fuse(p, q, 1.0, "logit"), p, atol=1e-5)  # w = 1: the classifier alone
    with pytest.raises(ValueError, match="unknown fusion rule"):
        fuse(p, q, 0.5, "max")


def test_classifier_descriptor_and_fusion_rows_with_tables(tiny_bench: Path, tmp_path: Path, hist_descriptor) -> None:
    ckpt = _tiny_classifier(tiny_bench, tmp_path / "clf.pt")
    images = BenchImages.load(read_benchmark(tiny_bench))
    clf = load_classifiers([ckpt, ckpt])  # an ensemble of two identical members = the member
    runs, fs = classifier_runs(images, clf, hist_descriptor, weight=0.5, rule="logit")
    assert [r.name for r in runs] == ["classifier", "hist-test (calibrated)", "fusion logit w=0.5"]
    assert fs.classifier.shape == fs.descriptor.shape == (8, 3)
    assert np.allclose(fs.classifier.sum(axis=1), 1.0, atol=1e-5)
    assert 0.0 < fs.descriptor.min() and fs.descriptor.max() < 1.0  # logistic-calibrated cosines
    for r in runs:
        assert (r.metrics.n_protected, r.metrics.n_unprotected) == (6, 2)
        assert set(r.by_collection) == {"coil", "other"} and set(r.by_photos) == {"2"}
    tables = classification_tables(images, fs, fuse(fs.classifier, fs.descriptor, 0.5, "logit"))
    assert set(tables) == {"classifier", "descriptor", "fusion"}
    fusion = tables["fusion"]
    assert fusion["overall"]["n"] == 6 and fusion["overall"]["top3"] == 1.0
    assert set(fusion["by_collection"]) == {"coil", "other"}
    assert fusion["by_photos_per_artefact"]["2"]["n"] == 6
    assert {"precision", "recall", "f1", "top1", "top5", "top10"} <= set(fusion["overall"])
    # the descriptor's calibration came from the gallery alone: the hist descriptor ranks well
    assert tables["descriptor"]["overall"]["top1"] == 1.0


def test_eval_refuses_a_missing_classifier_or_an_unknown_rule(tiny_bench: Path, tmp_path: Path) -> None:
    out = run_cli("eval", str(tiny_bench), "--classifier", str(tmp_path / "nope.pt"), data_dir=tmp_path / "d")
    assert out.returncode == 2 and "nope.pt does not exist" in out.stderr
    out = run_cli("eval", str(tiny_bench), "--fusion-rule", "max", data_dir=tmp_path / "d")
    assert out.returncode == 2 and "mean, geometric, logit" in out.stderr
    # every artefact is a class (--min-images 1), but a classifier needs two: one artefact is refused
    gallery = (tiny_bench / "gallery.csv").read_text().splitlines()
    (tiny_bench / "gallery.csv").write_text("\n".join(r for r in gallery if ",A0002," not in r and ",A0003," not in r))
    listings = (tiny_bench / "listings.csv").read_text().splitlines()
    (tiny_bench / "listings.csv").write_text("\n".join(r for r in listings if not r.endswith((",A0002", ",A0003"))))
    out = run_cli("eval", str(tiny_bench), "--train-classifier", data_dir=tmp_path / "d")
    assert out.returncode == 2 and "at least 2 artefacts with >= 1 photos" in out.stderr, out.stderr
    out = run_cli(
        "train", "classifier", "--gallery", str(tiny_bench / "gallery.csv"), "--out", str(tmp_path / "c.pt"),
        "--focus", "centre", data_dir=tmp_path / "d",
    )  # fmt: skip
    assert out.returncode == 2 and "--focus 'centre': use object or none" in out.stderr


@pytest.mark.slow
def test_lootwatch_eval_with_a_classifier_end_to_end(tiny_bench: Path, tmp_path: Path) -> None:
    ckpt = _tiny_classifier(tiny_bench, tmp_path / "clf.pt")
    out = run_cli(
        "eval",
        str(tiny_bench),
        "--descriptor",
        "imagenet-lite0-gem",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--classifier",
        str(ckpt),
        "--fusion-rule",
        "logit",
        "--json",
        str(tmp_path / "eval.json"),
        "--plots",
        str(tmp_path / "plots"),
        data_dir=tmp_path / "data",
    )
    assert out.returncode == 0, out.stderr
    assert "closed-set classification" in out.stdout and "fusion logit w=0.5" in out.stdout
    result = json.loads((tmp_path / "eval.json").read_text())
    assert [r["name"] for r in result["runs"]] == ["imagenet-lite0-gem", "classifier", "fusion logit w=0.5"]
    assert all(r["metrics"]["n_protected"] == 6 for r in result["runs"])
    assert result["fusion"]["rule"] == "logit" and result["fusion"]["n_genuine"] > 0
    tables = result["classification"]
    assert set(tables) == {"classifier", "descriptor", "fusion"}
    assert set(tables["fusion"]["by_collection"]) == {"coil", "other"}
    plots = tmp_path / "plots"
    assert (plots / "pca.png").stat().st_size > 1000 and (plots / "tsne.png").stat().st_size > 1000
    assert len(list(plots.glob("saliency_*.png"))) == 6
