from __future__ import annotations

from pathlib import Path

import pytest
from lootwatch.models.descriptor import load_descriptor, read_checkpoint
from lootwatch.models.errors import ModelError
from lootwatch.models.train_descriptor import train_descriptor

from tests.unit.models.test_train import TINY, coil_subset


def test_best_epoch_is_kept_by_held_out_objects(shared_dir: Path, tmp_path: Path) -> None:
    data = coil_subset(shared_dir, tmp_path / "coil", objects=4, photos=3)
    out = train_descriptor(data, tmp_path / "pan.pt", epochs=3, progress=False, val_objects=2, **TINY)
    card, _ = read_checkpoint(out)
    val = card.extra["validation"]
    assert len(val["held_out_objects"]) == 2 and card.extra["objects"] == 2  # trained on the other two
    # epoch 0 is the starting weights: training has to beat them to be chosen
    assert [e["epoch"] for e in val["epochs"]] == [0, 1, 2, 3] and card.extra.get("epochs_trained") in (None, 3)
    best = max(val["epochs"], key=lambda e: e["score"])
    assert val["chosen_epoch"] == best["epoch"] == card.extra["epochs_done"]
    assert {"ap", "r_at_p95", "fp_at_r90", "top1"} <= set(val["chosen"])
    load_descriptor(str(out))  # weights still match the card after the card was rewritten

    # resuming keeps the history; retrain_all writes a model trained on every object
    train_descriptor(data, out, epochs=4, resume=True, progress=False, val_objects=2, retrain_all=True, **TINY)
    card, _ = read_checkpoint(out)
    assert card.extra["epochs_done"] == card.extra["validation"]["chosen_epoch"]
    assert len(card.extra["validation"]["epochs"]) == 5
    if card.extra["validation"]["chosen_epoch"] > 0:
        assert card.extra["retrained_on_all_objects"] is True and card.extra["objects"] == 4
    else:  # the starting weights won: nothing to retrain
        assert "retrained_on_all_objects" not in card.extra
    assert not (tmp_path / "pan.all.pt").exists()


def test_too_few_objects_for_a_split_is_refused(shared_dir: Path, tmp_path: Path) -> None:
    data = coil_subset(shared_dir, tmp_path / "coil", objects=3, photos=2)
    with pytest.raises(ModelError, match="validation split"):
        train_descriptor(data, tmp_path / "x.pt", epochs=1, progress=False, val_objects=2, **TINY)
