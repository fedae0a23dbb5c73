from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from lootwatch.matcher.benchmark import read_benchmark
from lootwatch.matcher.evaluate import BenchImages, baseline_checkpoint, evaluate_descriptor

ROOT = Path(__file__).resolve().parents[3]


def test_evaluate_descriptor_on_a_tiny_benchmark(tiny_bench: Path, hist_descriptor) -> None:
    images = BenchImages.load(read_benchmark(tiny_bench))
    run = evaluate_descriptor(images, hist_descriptor, name="hist", batch_size=4)
    m = run.metrics
    assert (m.n_protected, m.n_unprotected) == (6, 2)
    assert m.top1 == 1.0  # other views of these coloured objects keep their colours
    assert 0 < m.ap <= 1 and m.threshold == run.calibration["threshold"]
    assert set(run.by_collection) == {"coil", "other"} and run.by_collection["other"].n_protected == 2
    assert set(run.by_photos) == {"1-2"}  # every artefact has 2 gallery photos
    assert run.per_listing is not None and run.per_listing.n_protected + run.per_listing.n_unprotected == len(
        {r.listing_id for r in images.bench.listings}
    )
    assert m.notify_threshold is not None and m.notify_threshold >= m.threshold  # type: ignore[operator]
    assert m.notify_threshold == run.calibration["notify_threshold"]
    assert len(run.listings) == 8 and len(run.listings[0]["top"]) == 3  # only 3 artefacts to rank
    assert run.to_dict()["card_version"].startswith("hist-test-")


def run_cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOOTWATCH_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "lootwatch", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=280,
    )


def test_eval_reports_a_broken_benchmark_clearly(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    out = run_cli("eval", str(tmp_path / "b"), data_dir=tmp_path / "data")
    assert out.returncode == 2 and "lacks gallery.csv, listings.csv" in out.stderr


@pytest.mark.slow
def test_lootwatch_eval_end_to_end(tiny_bench: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    out = run_cli(
        "eval",
        str(tiny_bench),
        "--descriptor",
        "imagenet-lite0-gem",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--json",
        str(tmp_path / "eval.json"),
        "--plots",
        str(tmp_path / "plots"),
        "--fine-tune-gallery",
        "1",
        "--compare",  # without --train-images: the untrained ImageNet reference rows only
        data_dir=tmp_path / "data",
    )
    assert out.returncode == 0, out.stderr
    assert "top1" in out.stdout and "collection coil" in out.stdout and "1-2 gallery photos/artefact" in out.stdout
    assert "per listing (photos combined)" in out.stdout and "R@notify" in out.stdout
    result = json.loads((tmp_path / "eval.json").read_text())
    run = result["runs"][0]
    assert run["name"] == "imagenet-lite0-gem" and run["card"]["dim"] == 1280
    assert run["metrics"]["n_protected"] == 6 and run["metrics"]["n_unprotected"] == 2
    assert run["metrics"]["top10"] == 1.0 and run["metrics"]["top1"] >= 0.5
    assert run["calibration"]["queries"] == "restaged gallery photos"
    assert (tmp_path / "plots" / "pr_curve.png").stat().st_size > 1000
    assert (tmp_path / "plots" / "scores_imagenet-lite0-gem.png").exists()
    tuned = result["runs"][1]  # the gallery fine-tuned copy: its own weights and card, scored alike
    assert tuned["name"] == "imagenet-lite0-gem + gallery fine-tune (1 steps)"
    assert tuned["card"]["extra"]["fine_tuned"]["steps"] == 1
    assert tuned["card"]["weights_sha256"] != run["card"]["weights_sha256"]
    assert tuned["metrics"]["n_protected"] == 6
    assert "cross-fitted" in tuned["calibration"]["queries"]  # its threshold from artefacts held out of tuning
    assert [r["name"] for r in result["runs"][2:]] == ["imagenet-lite2-gem (no training)"]  # lite0 is the main row
    assert run["per_listing"]["n_protected"] == 6 and run["metrics"]["notify_threshold"] is not None
    assert (tmp_path / "plots" / "scores_imagenet-lite2-gem_no_training.png").exists()


def test_baseline_checkpoints_are_named_by_how_they_were_trained(tmp_path: Path) -> None:
    a = baseline_checkpoint(tmp_path, "gem", "lite0", tmp_path / "x", 3)
    b = baseline_checkpoint(tmp_path, "gem", "lite0", tmp_path / "y", 3)
    assert a != b and a.name.startswith("baseline-gem-lite0-e3-") and a.suffix == ".pt"


def test_baselines_reuse_the_descriptors_training_recipe() -> None:
    from lootwatch.matcher.evaluate import training_options

    training = {"arch": "pan", "backbone": "lite0", "epochs": 9, "margin": 0.2, "dim": 256, "bf16": True}
    # bf16 is the recording machine's choice, not the recipe: this CPU picks its own (auto)
    assert training_options({"extra": {"training": training}}) == {"margin": 0.2, "dim": 256}
    assert training_options({"extra": {}}) == {}
