"""VersionedStore: a version goes live whole or not at all; CURRENT moves only after it is in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from lootwatch.core.errors import StateError
from lootwatch.core.versioned import CURRENT, VersionedStore


def _publish(store: VersionedStore, version: str, text: str, **kw: bool) -> Path:
    with store.staging() as folder:
        (folder / "model.bin").write_text(text)
        return store.publish(folder, version, **kw)


def test_publish_moves_current_after_the_folder(tmp_path: Path) -> None:
    store = VersionedStore(tmp_path / "versions")
    assert store.current() is None and store.current_path() is None and store.versions() == []
    first = _publish(store, "20260101T000000Z-a", "one")
    assert first == store.path("20260101T000000Z-a") and (first / "model.bin").read_text() == "one"
    assert (store.root / CURRENT).read_text() == "20260101T000000Z-a\n"
    _publish(store, "20260102T000000Z-b", "two")
    assert store.current() == "20260102T000000Z-b"
    assert store.versions() == ["20260102T000000Z-b", "20260101T000000Z-a"]
    assert {p.name for p in store.root.iterdir()} == {CURRENT, *store.versions()}  # no staging left


def test_versions_are_never_rewritten(tmp_path: Path) -> None:
    store = VersionedStore(tmp_path)
    _publish(store, "v1", "one")
    _publish(store, "v2", "two")
    with pytest.raises(StateError, match="already published"):
        _publish(store, "v1", "other")
    assert (store.path("v1") / "model.bin").read_text() == "one" and store.current() == "v2"
    # a name derived from the content: the published folder is reused, and goes live again
    _publish(store, "v1", "one", exist_ok=True)
    assert store.current() == "v1" and (store.path("v1") / "model.bin").read_text() == "one"
    assert not list(tmp_path.glob(".staging-*"))


def test_a_failed_version_leaves_the_live_one_and_no_staging(tmp_path: Path) -> None:
    store = VersionedStore(tmp_path)
    _publish(store, "v1", "one")
    with pytest.raises(RuntimeError), store.staging() as folder:
        (folder / "model.bin").write_text("half")
        raise RuntimeError("training died")
    assert store.current() == "v1" and store.versions() == ["v1"]
    assert not list(tmp_path.glob(".staging-*"))
    with pytest.raises(StateError, match="no version"):
        store.point("v9")


def test_marker_hides_a_pointer_to_an_incomplete_version(tmp_path: Path) -> None:
    store = VersionedStore(tmp_path, marker="model.bin")
    (tmp_path / "v1").mkdir()
    (tmp_path / CURRENT).write_text("v1\n")
    assert store.current() is None  # its files are not there
    (tmp_path / "v1" / "model.bin").write_text("one")
    assert store.current() == "v1"


def test_prune_keeps_the_newest_and_the_live_one(tmp_path: Path) -> None:
    store = VersionedStore(tmp_path)
    for n in range(1, 5):
        _publish(store, f"v{n}", str(n))
    store.point("v1")  # rolled back to the oldest
    assert sorted(store.prune(keep=2)) == ["v2"]
    assert store.versions() == ["v4", "v3", "v1"]


def test_watch_reports_each_new_live_version_once(tmp_path: Path) -> None:
    store = VersionedStore(tmp_path)
    watch = store.watch()
    assert watch.changed() is None  # nothing published
    _publish(store, "v1", "one")
    assert watch.changed() == "v1"
    assert watch.changed() is None
    _publish(store, "v2", "two")
    store.point("v1")  # back before the watcher looked: the live one is still the one it has
    assert watch.changed() is None
    store.point("v2")
    assert watch.changed() == "v2"
