from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lootwatch.models.descriptor import load_descriptor
from lootwatch.models.errors import ModelError
from lootwatch.models.finetune import fine_tune, gallery_hash
from lootwatch.models.train_descriptor import train_descriptor
from PIL import Image

from .test_train import TINY, coil_subset


def test_fine_tuning_moves_the_weights_and_records_where_they_came_from(shared_dir: Path, tmp_path: Path) -> None:
    data = coil_subset(shared_dir, tmp_path / "coil")
    ckpt = train_descriptor(data, tmp_path / "pan.pt", arch="pan", epochs=1, progress=False, **TINY)
    model = load_descriptor(str(ckpt))
    parent = model.card.version
    gallery = {d.name: [Image.open(f).convert("RGB") for f in sorted(d.glob("*.png"))] for d in sorted(data.iterdir())}
    before = model.embed(gallery["obj002"][:1])
    tuned = fine_tune(model, gallery, 2, data_sha256="abc")
    assert not tuned.training
    assert tuned.card.name.endswith("-gallery") and tuned.card.training_data_sha256 == "abc"
    record = tuned.card.extra["fine_tuned"]
    assert tuned.card.version != parent  # its weights hash is its own
    assert record["from"] == parent and record["steps"] == 2 and record["artefacts"] == 3 and record["photos"] == 9
    assert not np.allclose(before, tuned.embed(gallery["obj002"][:1]))


def test_fine_tuning_needs_two_artefacts_and_a_step(shared_dir: Path, tmp_path: Path) -> None:
    data = coil_subset(shared_dir, tmp_path / "coil", objects=2, photos=2)
    model = load_descriptor(str(train_descriptor(data, tmp_path / "p.pt", epochs=1, progress=False, **TINY)))
    photos = [Image.open(f).convert("RGB") for f in sorted((data / "obj002").glob("*.png"))]
    with pytest.raises(ModelError, match="at least 2 artefacts"):
        fine_tune(model, {"A": photos, "B": []}, 2)
    with pytest.raises(ModelError, match="at least one step"):
        fine_tune(model, {"A": photos, "B": photos}, 0)


def test_gallery_hash_ignores_order() -> None:
    assert gallery_hash({"A": ["1", "2"], "B": ["3"]}) == gallery_hash({"B": ["3"], "A": ["2", "1"]})
    assert gallery_hash({"A": ["1"]}) != gallery_hash({"B": ["1"]})
