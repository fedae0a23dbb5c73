"""The instance classifier: head, loss weights, gallery selection, split, tiny training, saliency."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from lootwatch.models.classifier import (
    ClassifierHead,
    class_weights,
    classifier_loss,
    default_input_size,
    load_classifier,
)
from lootwatch.models.classifier_data import GalleryPhoto, read_gallery, select_artefacts, split_per_artefact
from lootwatch.models.classifier_metrics import classification_report
from lootwatch.models.errors import ModelError
from PIL import Image


def test_head_is_the_papers_and_gives_one_logit_per_artefact() -> None:
    head = ClassifierHead(1280, 7)
    layers = [type(m).__name__ for m in head.children()]
    assert layers == ["BatchNorm1d", "Linear", "ReLU", "Dropout", "Linear"]
    assert head.fc1.out_features == 2048 and head.drop.p == 0.5
    assert head(torch.randn(4, 1280)).shape == (4, 7)
    with pytest.raises(ModelError):
        ClassifierHead(1280, 1)


def test_class_weights_are_inverse_frequency_over_the_largest() -> None:
    w = class_weights([2, 4, 8])
    assert torch.allclose(w, torch.tensor([1.0, 0.5, 0.25]))
    with pytest.raises(ModelError):
        class_weights([3, 0])


def test_loss_is_weighted_nll_of_log_softmax() -> None:
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([0, 1])
    w = torch.tensor([1.0, 0.5])
    expected = torch.nn.functional.cross_entropy(logits, y, weight=w)
    assert torch.isclose(classifier_loss(logits, y, w), expected)


def test_paper_input_sizes() -> None:
    assert default_input_size("efficientnet_b0") == (256, 224)
    assert default_input_size("efficientnet_b7") == (633, 600)
    assert default_input_size("tf_efficientnet_lite2") == (260, 260)
    assert default_input_size("inception_v4") == (299, 299)


def _photos(counts: dict[str, int]) -> list[GalleryPhoto]:
    return [GalleryPhoto(a, Path(f"{a}/{i}.png"), collection="c") for a, n in counts.items() for i in range(n)]


def test_split_keeps_every_artefact_in_training() -> None:
    photos = _photos({"A": 4, "B": 4, "C": 1, "D": 2, "E": 6})
    split = split_per_artefact(photos, val_fraction=0.25, seed=3)
    assert {p.artefact_id for p in split.train} == {"A", "B", "C", "D", "E"}
    assert sorted(p.artefact_id for p in split.val) == ["A", "B", "D", "E", "E"]
    assert not set(split.train) & set(split.val)
    assert len(split.train) + len(split.val) == len(photos)


def test_min_images_lists_the_excluded_and_refuses_one_artefact() -> None:
    ts = select_artefacts(_photos({"A": 4, "B": 3, "C": 2, "D": 1}), min_images=3)
    assert ts.classes == ["A", "B"]
    assert ts.excluded == {"C": 2, "D": 1}
    with pytest.raises(ModelError, match=r"at least 2 artefacts.*C \(2\), D \(1\)"):
        select_artefacts(_photos({"A": 4, "C": 2, "D": 1}), min_images=3)
    with pytest.raises(ModelError, match="has 0"):
        select_artefacts([], min_images=3)


def test_read_gallery_csv_and_folders(tmp_path: Path) -> None:
    for a in ("X1", "X2"):
        (tmp_path / "g" / a).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(tmp_path / "g" / a / "0.png")
    (tmp_path / "gallery.csv").write_text("image,artefact_id,collection\ng/X1/0.png,X1,museum\ng/X2/0.png,X2,museum\n")
    from_csv = read_gallery(tmp_path / "gallery.csv")
    assert [(p.artefact_id, p.collection) for p in from_csv] == [("X1", "museum"), ("X2", "museum")]
    assert [p.artefact_id for p in read_gallery(tmp_path / "g")] == ["X1", "X2"]
    (tmp_path / "bad.csv").write_text("image,artefact_id\ng/X9/0.png,X9\n")
    with pytest.raises(ModelError, match="does not exist"):
        read_gallery(tmp_path / "bad.csv")


def test_classification_report_per_group() -> None:
    scores = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.3, 0.3, 0.4]])
    rep = classification_report(scores, ["a", "b", "c"], ["a", "b", "b", None], {"col": {"a": "x", "b": "y", "c": "y"}})
    assert rep["overall"]["n"] == 3
    assert rep["overall"]["top1"] == pytest.approx(2 / 3)
    assert rep["overall"]["top3"] == 1.0
    assert rep["col"]["y"]["top1"] == 0.5 and rep["col"]["x"]["top1"] == 1.0


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 epochs on 3 coil objects, 4 photos each, 64 px: a real (if useless) checkpoint."""
    shared = Path(__file__).resolve().parents[4] / "shared" / "data" / "coil100-train"
    if not shared.is_dir():
        pytest.skip("../shared/data/coil100-train is not beside the project")
    from lootwatch.models.classifier_train import TrainConfig, train_classifier

    root = tmp_path_factory.mktemp("tiny")
    for obj in ("obj002", "obj003", "obj004"):
        (root / "gallery" / obj).mkdir(parents=True)
        for angle in ("000", "090", "180", "270"):
            shutil.copy(shared / obj / f"{angle}.png", root / "gallery" / obj / f"{angle}.png")
    cfg = TrainConfig(
        pretrained=False,
        input_size=(64, 64),
        views_per_photo=1,
        val_views_per_photo=1,
        epochs=2,
        patience=5,
        batch_size=8,
    )
    out = root / "clf.pt"
    result = train_classifier(root / "gallery", out, cfg, progress=False)
    assert result.classes == ["obj002", "obj003", "obj004"]
    assert result.epochs_run == 2
    return out


def test_tiny_training_writes_a_loadable_checkpoint(tiny_checkpoint: Path) -> None:
    blob = torch.load(tiny_checkpoint, weights_only=True)
    assert set(blob) == {"card", "state_dict", "classes"}
    clf = load_classifier(tiny_checkpoint)
    assert clf.card.kind == "classifier" and clf.card.dim == 3 and clf.card.input_size == (64, 64)
    assert clf.card.extra["photo_counts"] == {"obj002": 4, "obj003": 4, "obj004": 4}
    assert clf.temperature > 0
    assert not tiny_checkpoint.with_name("clf.pt.partial").exists()
    photo = Image.open(tiny_checkpoint.parent / "gallery" / "obj003" / "090.png")
    p = clf.predict_proba([photo, photo.rotate(30)])
    assert p.shape == (2, 3)
    assert np.allclose(p.sum(axis=1), 1.0, atol=1e-5)


def test_saliency_png_is_written(tiny_checkpoint: Path, tmp_path: Path) -> None:
    from lootwatch.models.classifier_saliency import save_saliency

    clf = load_classifier(tiny_checkpoint)
    photo = Image.open(tiny_checkpoint.parent / "gallery" / "obj002" / "000.png")
    path = save_saliency(clf, photo, tmp_path / "sal.png")
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size == (128, 64)
        left, right = np.asarray(img)[:, :64], np.asarray(img)[:, 64:]
    assert not np.array_equal(left, right)  # the heat map changed the photo


def test_ensemble_refuses_members_over_other_artefacts(tiny_checkpoint: Path, tmp_path: Path) -> None:
    from lootwatch.models.classifier import Ensemble, load_ensemble

    ens = load_ensemble([tiny_checkpoint, tiny_checkpoint])
    photo = Image.open(tiny_checkpoint.parent / "gallery" / "obj002" / "000.png")
    single = load_classifier(tiny_checkpoint).predict_proba([photo])
    assert np.allclose(ens.predict_proba([photo]), single, atol=1e-6)
    other = load_classifier(tiny_checkpoint)
    other.classes = ["a", "b", "c"]
    with pytest.raises(ModelError, match="disagree"):
        Ensemble([load_classifier(tiny_checkpoint), other])


def test_loading_a_non_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.pt"
    torch.save({"state_dict": {}}, bad)
    with pytest.raises(ModelError, match="not a classifier checkpoint"):
        load_classifier(bad)
    with pytest.raises(ModelError, match="does not exist"):
        load_classifier(tmp_path / "missing.pt")


def test_recorded_config_survives_the_card_round_trip(tiny_checkpoint: Path) -> None:
    from lootwatch.models.classifier_train import TrainConfig, benchmark_config

    cfg = benchmark_config(negatives=Path("/x/coil"), epochs=7)
    assert cfg.input_size == (160, 160) and cfg.epochs == 7
    rec = TrainConfig.recorded(cfg)
    assert rec["input_size"] == [160, 160] and rec["negatives"] == "/x/coil"
    assert TrainConfig.recorded(rec) == rec  # what a card stores compares equal to the config
    card = load_classifier(tiny_checkpoint).card
    assert TrainConfig.recorded(card.extra["config"])["input_size"] == [64, 64]


def test_training_accepts_listed_photos(tiny_checkpoint: Path, tmp_path: Path) -> None:
    """The Postgres gallery arrives as a list of photos, not a folder: same training."""
    from lootwatch.models.classifier_train import TrainConfig, train_classifier

    photos = read_gallery(tiny_checkpoint.parent / "gallery")
    cfg = TrainConfig(pretrained=False, input_size=(64, 64), views_per_photo=1, val_views_per_photo=1, epochs=1)
    # into a folder that does not exist yet, as on a fresh data dir
    result = train_classifier(photos[:8], tmp_path / "checkpoints" / "listed.pt", cfg, progress=False)
    assert result.classes == ["obj002", "obj003"]  # the first 8 photos: two artefacts
    assert load_classifier(tmp_path / "checkpoints" / "listed.pt").card.extra["photo_counts"] == {
        "obj002": 4,
        "obj003": 4,
    }


def test_one_photo_artefacts_get_a_class_and_the_judge_sees_held_out_views(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    """Every artefact is a class by default, one with a single photo too (trained on its views);
    the judge gets the phase-1 model's calibrated softmax on views of photos it never trained on,
    and what it answers is recorded in the card."""
    from lootwatch.models.classifier_features import iter_views
    from lootwatch.models.classifier_train import HeldOut, TrainConfig, train_classifier

    photos = read_gallery(tiny_checkpoint.parent / "gallery")
    single = [p for p in photos if p.artefact_id == "obj004"][:1]
    gallery = [p for p in photos if p.artefact_id != "obj004"] + single
    seen: list[HeldOut] = []

    def judge(held: HeldOut) -> dict[str, object]:
        seen.append(held)
        return {"use": "descriptor", "weight": 0.0, "reason": "test"}

    cfg = TrainConfig(pretrained=False, input_size=(64, 64), views_per_photo=1, val_views_per_photo=2, epochs=1)
    result = train_classifier(gallery, tmp_path / "one.pt", cfg, progress=False, judge=judge)
    assert result.classes == ["obj002", "obj003", "obj004"] and result.excluded == {}
    clf = load_classifier(tmp_path / "one.pt")
    assert clf.card.extra["photo_counts"]["obj004"] == 1
    assert (
        clf.card.extra["fusion_check"] == result.fusion_check == {"use": "descriptor", "weight": 0.0, "reason": "test"}
    )
    (held,) = seen
    assert {p.artefact_id for p in held.train} == {"obj002", "obj003", "obj004"}  # the single photo trains
    assert {p.artefact_id for p in held.val} == {"obj002", "obj003"} and not set(held.val) & set(held.train)
    assert held.probs.shape == (2 * len(held.val), 3) and np.allclose(held.probs.sum(axis=1), 1.0, atol=1e-5)
    assert [held.classes[i] for i in held.labels] == [p.artefact_id for p in held.val for _ in range(2)]
    remade = list(held.images())
    again = list(iter_views(held.val, 2, cfg.seed, keep_original=False))
    assert [np.asarray(a).tobytes() for a in remade] == [np.asarray(b).tobytes() for b in again]
    assert not (tmp_path / "one.pt.cache").exists()  # the feature files are gone once the model is written


def _on_backdrop(photo: Image.Image) -> Image.Image:
    """The studio photo small on a plain grey backdrop, as a seller might shoot it."""
    canvas = Image.new("RGB", (256, 256), (170, 170, 170))
    canvas.paste(photo.convert("RGB"), (100, 60))
    return canvas


def test_the_card_says_how_photos_are_framed(tiny_checkpoint: Path) -> None:
    from lootwatch.models.classifier import model_view, to_tensor
    from lootwatch.models.descriptor import preprocess
    from lootwatch.models.focus import focus_object

    clf = load_classifier(tiny_checkpoint)
    assert clf.card.extra["focus"] == "object"  # the training default, recorded for matching
    listing = _on_backdrop(Image.open(tiny_checkpoint.parent / "gallery" / "obj003" / "090.png"))
    view = model_view(listing, clf.card)
    assert view.size[0] < 200 and view.size == focus_object(listing).size
    assert torch.equal(to_tensor([listing], clf.card), preprocess([view], clf.card))
    # a card written before focusing existed (or trained with focus none) sees the whole photo
    old = dataclasses.replace(clf.card, extra={k: v for k, v in clf.card.extra.items() if k != "focus"})
    assert model_view(listing, old) is listing
    assert model_view(listing, dataclasses.replace(clf.card, extra={"focus": "none"})) is listing


def test_an_unknown_focus_is_refused(tmp_path: Path) -> None:
    from lootwatch.models.classifier_train import TrainConfig, train_classifier

    with pytest.raises(ModelError, match="focus must be one of none, object"):
        train_classifier([], tmp_path / "x.pt", TrainConfig(focus="centre"), progress=False)
