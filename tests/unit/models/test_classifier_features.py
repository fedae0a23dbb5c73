"""Training views streamed to a feature file: rows read back exactly, views made again identically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from lootwatch.models.classifier_data import GalleryPhoto
from lootwatch.models.classifier_features import (
    FeatureFile,
    Features,
    iter_views,
    load_manifest,
    photo_views,
    save_manifest,
    write_features,
)
from lootwatch.models.errors import ModelError
from PIL import Image


def _photo(tmp_path: Path, name: str, colour: tuple[int, int, int]) -> Path:
    path = tmp_path / f"{name}.png"
    img = Image.new("RGB", (96, 80), (200, 200, 200))
    img.paste(Image.new("RGB", (40, 30), colour), (30, 25))
    img.save(path)
    return path


def _mean_colour(images: list[Image.Image]) -> torch.Tensor:
    """A stand-in trunk: each view's mean RGB (one row of 3 per view)."""
    return torch.tensor(np.array([np.asarray(im, dtype=np.float32).mean(axis=(0, 1)) for im in images]))


def test_rows_are_written_batch_by_batch_and_read_back_in_any_order(tmp_path: Path) -> None:
    photos = [_photo(tmp_path, "a", (200, 30, 30)), _photo(tmp_path, "b", (30, 30, 200))]
    batches: list[int] = []

    def encode(images: list[Image.Image]) -> torch.Tensor:
        batches.append(len(images))
        return _mean_colour(images)

    ff = write_features(tmp_path / "f.f32", iter_views(photos, 3, 7, keep_original=True), encode, batch_size=3)
    assert (len(ff), ff.shape) == (8, (3,)) and batches == [3, 3, 2]  # never more than a batch of views at once
    assert (tmp_path / "f.f32").stat().st_size == 8 * 3 * 4
    expected = _mean_colour(list(iter_views(photos, 3, 7, keep_original=True)))  # views made again: identical
    assert torch.allclose(ff.take([7, 0, 3, 3]), expected[[7, 0, 3, 3]])
    assert torch.allclose(torch.cat(list(ff.chunks(3))), expected)
    with pytest.raises(ModelError, match="outside"):
        ff.take([8])


def test_views_depend_on_seed_photo_and_number_only(tmp_path: Path) -> None:
    path = _photo(tmp_path, "a", (10, 120, 10))
    first = photo_views(path, 2, seed=1, keep_original=False)
    again = photo_views(path, 2, seed=1, keep_original=False)
    other = photo_views(path, 2, seed=2, keep_original=False)
    assert [np.asarray(a).tobytes() for a in first] == [np.asarray(b).tobytes() for b in again]
    assert np.asarray(first[0]).tobytes() != np.asarray(first[1]).tobytes()
    assert np.asarray(first[0]).tobytes() != np.asarray(other[0]).tobytes()
    assert photo_views(path, 0, seed=1, keep_original=True)[0].size == (96, 80)
    assert [len(list(iter_views([GalleryPhoto("A", path)], 2, 1, keep))) for keep in (True, False)] == [3, 2]


def test_several_files_read_as_one_and_the_manifest_checks_its_key(tmp_path: Path) -> None:
    a = write_features(tmp_path / "a.f32", iter([Image.new("RGB", (4, 4), (i, 0, 0)) for i in range(3)]), _mean_colour)
    b = write_features(tmp_path / "b.f32", iter([Image.new("RGB", (4, 4), (0, i, 0)) for i in range(2)]), _mean_colour)
    both = Features([a, b, FeatureFile(tmp_path / "empty.f32", (3,), 0)])
    assert len(both) == 5
    rows = both.take([4, 0, 3])
    assert rows[:, 0].tolist() == [0.0, 0.0, 0.0] and rows[:, 1].tolist() == [1.0, 0.0, 0.0]
    assert rows[1, 0] == 0.0 and both.take([2])[0, 0] == 2.0
    save_manifest(tmp_path, "k1", {"a": a, "b": b}, {"a": [0, 1, 2]})
    files, labels = load_manifest(tmp_path, "k1") or ({}, {})
    assert files["b"].rows == 2 and labels == {"a": [0, 1, 2]}
    assert load_manifest(tmp_path, "k2") is None  # another training's settings: not reused
    (tmp_path / "b.f32").write_bytes(b"\0" * 4)  # cut short (a crash mid-write): not reused either
    assert load_manifest(tmp_path, "k1") is None
