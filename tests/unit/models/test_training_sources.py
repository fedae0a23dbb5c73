"""Several training sources, categories and catalogue objects; same-category batches."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from lootwatch.models.augment import centre_mark, listing_style
from lootwatch.models.card import ModelCard
from lootwatch.models.errors import ModelError
from lootwatch.models.train_descriptor import TrainConfig, choose_objects, options_from_card
from lootwatch.models.training_data import read_training_sets
from lootwatch.models.validation import (
    build_validation_set,
    catalogue_views,
    split_stratified,
    unprotected_groups,
)
from PIL import Image


def _photos(folder: Path, n: int, colour: tuple[int, int, int], info: dict | None = None) -> None:
    folder.mkdir(parents=True)
    for i in range(n):
        Image.new("RGB", (40, 30), tuple(min(255, c + 9 * i) for c in colour)).save(folder / f"view{i:02d}.jpg")
    if info is not None:
        (folder / "info.json").write_text(json.dumps(info, ensure_ascii=False), encoding="utf-8")


@pytest.fixture
def two_sources(tmp_path: Path) -> list[Path]:
    antiq, coil = tmp_path / "antiquities", tmp_path / "coil"
    _photos(antiq / "b1", 4, (120, 80, 40), {"category": "bronze"})
    _photos(antiq / "b2", 5, (110, 90, 30), {"category": "bronze"})
    _photos(antiq / "j1", 3, (40, 160, 90), {"category": "jade"})
    _photos(antiq / "x1", 2, (90, 90, 90), {"name": "no category"})
    _photos(coil / "obj001", 6, (200, 20, 20))
    _photos(coil / "obj002", 6, (20, 20, 200))
    return [antiq, coil]


def test_sources_combine_with_prefixed_ids_categories_and_kinds(two_sources: list[Path]) -> None:
    data = read_training_sets(two_sources)
    assert sorted(data.objects) == [
        "antiquities/b1",
        "antiquities/b2",
        "antiquities/j1",
        "antiquities/x1",
        "coil/obj001",
        "coil/obj002",
    ]
    assert data.categories["antiquities/b1"] == "bronze" and data.categories["antiquities/j1"] == "jade"
    assert data.categories["antiquities/x1"] == "antiquities"  # info.json without a category: the source
    assert data.categories["coil/obj001"] == "coil"
    assert data.kinds["antiquities/b2"] == "catalogue" and data.kinds["coil/obj002"] == "series"
    assert all(p.suffix == ".jpg" for p in data.objects["antiquities/b1"])  # info.json is not a photo
    again = read_training_sets(two_sources)
    assert again.sha256 == data.sha256 and read_training_sets(two_sources[::-1]).sha256 != data.sha256
    assert read_training_sets(two_sources[:1]).objects.keys() == {"b1", "b2", "j1", "x1"}  # one source: no prefix


def test_sources_need_distinct_names(two_sources: list[Path], tmp_path: Path) -> None:
    twin = tmp_path / "other" / "coil"
    _photos(twin / "a", 2, (1, 2, 3))
    _photos(twin / "b", 2, (3, 2, 1))
    with pytest.raises(ModelError, match="distinct names"):
        read_training_sets([two_sources[1], twin])
    with pytest.raises(ModelError, match="no training data"):
        read_training_sets([])


def test_stratified_split_holds_out_each_category_in_proportion() -> None:
    categories = {f"b{i:02d}": "bronze" for i in range(20)} | {f"j{i:02d}": "jade" for i in range(10)}
    categories |= {"s0": "seal"}
    train, held = split_stratified(categories, 6, seed=3)
    assert len(held) == 6 and not set(train) & set(held) and len(train) + len(held) == 31
    assert sum(categories[o] == "bronze" for o in held) == 4 and sum(categories[o] == "jade" for o in held) == 2
    assert held == split_stratified(dict(reversed(categories.items())), 6, seed=3)[1]  # order-independent
    with pytest.raises(ModelError):
        split_stratified(categories, 30)


def test_batches_hold_same_category_negatives() -> None:
    objects = [f"b{i}" for i in range(6)] + [f"j{i}" for i in range(6)] + ["s0"]
    categories = {o: o[0] for o in objects}
    rng = random.Random(0)
    for _ in range(50):
        chosen = choose_objects(objects, categories, 8, 2, rng)
        assert len(chosen) == len(set(chosen)) == 8
        cats = [categories[o] for o in chosen]
        assert any(cats.count(c) >= 2 for c in set(cats))  # a same-category pair in every batch
    assert len(choose_objects(objects[:3], categories, 8, 4, rng)) == 3  # fewer objects than P
    plain = choose_objects(objects, None, 8, 2, random.Random(1))
    assert len(set(plain)) == 8


def test_catalogue_views_split_gallery_and_other_views() -> None:
    g, q = catalogue_views(7, random.Random(0))
    assert len(g) == 4 and len(q) == 2 and not set(g) & set(q)
    g, q = catalogue_views(2, random.Random(0))
    assert len(g) == 1 and len(q) == 1  # a gallery view and a listing view at the least


def test_validation_set_treats_catalogue_and_series_objects_apart(two_sources: list[Path]) -> None:
    data = read_training_sets(two_sources)
    vset = build_validation_set(data.objects, kinds=data.kinds, max_queries=2)
    by_obj = {o: vset.query_labels.count(o) for o in data.objects}
    assert by_obj["antiquities/b2"] == 1  # 5 views: 4 in the gallery, the fifth as a listing photo
    assert by_obj["coil/obj001"] <= 2  # a series capped at max_queries
    assert vset.gallery_labels.count("antiquities/j1") == 2


def test_unprotected_groups_cover_every_object_once() -> None:
    objects = [f"o{i}" for i in range(7)]
    groups = unprotected_groups(objects, 3)
    assert sorted(sum(groups.values(), [])) == objects and len(groups) == 3
    assert unprotected_groups(objects) == {o: [o] for o in objects}


def test_centre_mark_changes_the_centre_and_listing_style_can_add_it() -> None:
    img = Image.new("RGB", (200, 160), (128, 128, 128))
    marked = np.asarray(centre_mark(img, random.Random(2)), dtype=np.int16)
    diff = np.abs(marked - 128).sum(axis=2)
    assert diff[50:110, 40:160].sum() > 0 and diff[:10, :10].sum() == 0  # the middle, not the corner
    assert listing_style(img, random.Random(1), centre_mark_p=1.0).mode == "RGB"


def test_options_from_card_give_the_recorded_recipe_and_chosen_epochs() -> None:
    training = {"arch": "pan", "backbone": "lite0", "epochs": 10, "lr": 0.0005, "same_category": 2, "bf16": True}
    card = ModelCard(
        "pan-x",
        "descriptor",
        "pan",
        "tf_efficientnet_lite0",
        "none",
        512,
        (224, 224),
        (0.5, 0.5, 0.5),
        (0.5, 0.5, 0.5),
        extra={"training": training, "validation": {"chosen_epoch": 4}, "epochs_done": 4},
    )
    arch, backbone, epochs, options = options_from_card(card)
    assert (arch, backbone, epochs) == ("pan", "lite0", 4)
    assert options["lr"] == 0.0005 and options["same_category"] == 2 and options["bf16"] is None
    TrainConfig(**options).check()
    card.extra = {}
    with pytest.raises(ModelError, match="no training settings"):
        options_from_card(card)
