from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lootwatch.matcher.errors import IndexMismatchError, IndexNotFoundError
from lootwatch.matcher.index import GalleryIndex
from lootwatch.matcher.store import current_version, load_current, prune, publish


def small_index(card, n: int, seed: int = 0) -> GalleryIndex:
    v = np.random.default_rng(seed).normal(size=(n, 64)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return GalleryIndex.from_vectors(card, np.arange(n), [f"A{i // 2}" for i in range(n)], v)


def test_publish_and_load_current(tmp_path: Path, card_factory) -> None:
    with pytest.raises(IndexNotFoundError, match="no published"):
        load_current(tmp_path)
    first = publish(small_index(card_factory(), 6), tmp_path)
    assert first.parent == tmp_path and (first / "meta.json").exists()
    assert current_version(tmp_path) == first.name
    assert load_current(tmp_path, expect_card=card_factory()).ntotal == 6
    with pytest.raises(IndexMismatchError):
        load_current(tmp_path, expect_card=card_factory(weights="ef" * 32))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_republishing_never_overwrites_a_version(tmp_path: Path, card_factory) -> None:
    index = small_index(card_factory(), 6)
    a = publish(index, tmp_path)
    b = publish(index, tmp_path)  # same content, same second: gets the next time stamp
    assert a != b and a.exists() and b.exists()
    assert current_version(tmp_path) == b.name


def test_prune_keeps_the_newest_and_the_live_version(tmp_path: Path, card_factory) -> None:
    names = [publish(small_index(card_factory(), 4 + i), tmp_path).name for i in range(4)]
    deleted = prune(tmp_path, keep=2)
    assert sorted(deleted) == sorted(names[:2])
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == sorted(names[2:])
