from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lootwatch.matcher.tuning import fold_of, open_set_scores, tune_on_gallery
from lootwatch.models.descriptor import load_descriptor
from lootwatch.models.train_descriptor import train_descriptor
from PIL import Image

from lootwatch.core.errors import BadInputError

from ..models.test_train import TINY, coil_subset


def test_folds_are_balanced_seeded_and_cover_every_artefact() -> None:
    ids = [f"A{i}" for i in range(10) for _ in range(3)]  # photos, not artefacts: each id thrice
    folds = fold_of(ids, 4)
    assert sorted(folds) == sorted(set(ids))
    sizes = np.bincount(list(folds.values()))
    assert sizes.tolist() == [3, 3, 2, 2]
    assert fold_of(list(reversed(ids)), 4) == folds  # order of the photos does not matter


def test_open_set_score_is_best_artefact_less_contrast_times_second() -> None:
    vectors = np.eye(3, dtype=np.float32)  # photos of A, A, B along three axes
    ids = ["A", "A", "B"]
    q = np.array([[0.6, 0.0, 0.8], [0.0, 0.9, 0.1]], np.float32)
    # query 0: A best 0.6, B 0.8 -> 0.8 - 0.5 * 0.6; query 1: A 0.9 (second photo), B 0.1
    assert open_set_scores(q, vectors, ids, 0.5) == pytest.approx([0.8 - 0.3, 0.9 - 0.05])
    assert open_set_scores(q, vectors, ids, 0.0) == pytest.approx([0.8, 0.9])


@pytest.fixture(scope="module")
def gallery(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[Image.Image], list[str]]:
    tmp = tmp_path_factory.mktemp("tuning")
    data = coil_subset(shared_dir, tmp / "coil", objects=4, photos=3)
    ckpt = train_descriptor(data, tmp / "pan.pt", arch="pan", epochs=1, progress=False, **TINY)
    images, ids = [], []
    for folder in sorted(data.iterdir()):
        for f in sorted(folder.glob("*.png")):
            images.append(Image.open(f).convert("RGB"))
            ids.append(folder.name)
    return str(ckpt), images, ids


def test_threshold_is_cross_fitted_on_artefacts_held_out_of_fine_tuning(
    gallery: tuple[str, list[Image.Image], list[str]],
) -> None:
    ckpt, images, ids = gallery
    loads = []

    def load():  # noqa: ANN202
        loads.append(1)
        return load_descriptor(ckpt)

    said: list[str] = []
    tuned = tune_on_gallery(load, images, ids, steps=1, folds=2, contrast=0.5, data_sha256="g", say=said.append)
    assert len(loads) == 3  # two calibration folds, then the whole gallery
    assert any("fold 1/2" in s for s in said) and "whole gallery" in said[-1]
    cal = tuned.calibration
    # each fold holds 2 of the 4 artefacts out: their 3 photos x 2 re-stagings are impostor queries
    assert cal.impostor.n == 2 * (2 * 3 * 2)
    assert cal.genuine.n == 2 * (2 * 3 * 2)
    assert cal.threshold is not None and cal.contrast == 0.5 and "cross-fitted over 2 folds" in cal.queries
    # two levels held to their false-alert targets on the held-out artefacts, not capped by recall
    assert cal.notify_threshold is not None and cal.notify_threshold >= cal.threshold
    assert cal.levels["review"]["fp_gallery"] <= 0.10 and cal.levels["notify"]["fp_gallery"] <= 0.02
    assert cal.rule.startswith("lowest t with estimated false alerts <= 0.1")
    assert tuned.descriptor.card.name.endswith("-gallery")
    assert tuned.descriptor.card.extra["fine_tuned"]["artefacts"] == 4
    assert tuned.descriptor.card.training_data_sha256 == "g"


def test_a_gallery_of_two_artefacts_is_refused(gallery: tuple[str, list[Image.Image], list[str]]) -> None:
    ckpt, images, ids = gallery
    keep = [i for i, a in enumerate(ids) if a in sorted(set(ids))[:2]]
    with pytest.raises(BadInputError, match="at least 3 artefacts"):
        tune_on_gallery(
            lambda: load_descriptor(ckpt),
            [images[i] for i in keep],
            [ids[i] for i in keep],
            steps=1,
            folds=2,
            contrast=0.5,
        )
