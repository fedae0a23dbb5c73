"""A folder of immutable versions and a pointer to the live one (the gallery index, the classifier).

Layout::

    <root>/<version>/...     one folder per published version, never rewritten
    <root>/CURRENT           the live version's folder name (one line)
    <root>/.staging-*        a version being written (removed when it fails)

A version is written into a private staging folder, its files and the folder are fsynced, it is
renamed into place, and only then is CURRENT replaced (write-then-rename, fsynced): a reader sees
the old version or the complete new one, also after a crash. Version names sort by age (they start
with a UTC time stamp), which is what ``prune`` keeps by.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lootwatch.core.errors import StateError
from lootwatch.core.files import atomic_write, fsync_dir

CURRENT = "CURRENT"
STAGING_PREFIX = ".staging-"


class VersionedStore:
    """Versions under ``root``; ``marker``: a file every complete version holds (a version whose
    folder lacks it is not live, e.g. a pointer written by hand ahead of its files)."""

    def __init__(self, root: str | Path, *, marker: str | None = None) -> None:
        self.root = Path(root)
        self.marker = marker

    def __repr__(self) -> str:
        return f"VersionedStore({str(self.root)!r})"

    def path(self, version: str) -> Path:
        return self.root / version

    def exists(self, version: str) -> bool:
        return self.path(version).is_dir()

    def current(self) -> str | None:
        """The live version's name, or None before the first publish."""
        try:
            name = (self.root / CURRENT).read_text().strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not name or (self.marker is not None and not (self.root / name / self.marker).is_file()):
            return None
        return name

    def current_path(self) -> Path | None:
        version = self.current()
        return None if version is None else self.path(version)

    def versions(self) -> list[str]:
        """Published version names, newest first."""
        if not self.root.is_dir():
            return []
        return sorted((p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")), reverse=True)

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """A private folder to write a version into; removed unless :meth:`publish` took it."""
        self.root.mkdir(parents=True, exist_ok=True)
        folder = self.root / f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
        folder.mkdir()
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)  # published: already renamed away

    def publish(self, staging: Path, version: str, *, exist_ok: bool = False) -> Path:
        """Make the filled ``staging`` folder version ``version`` and point CURRENT at it.

        ``exist_ok``: a version of that name published before holds the same content (its name is
        derived from the content): it is kept, ``staging`` dropped, and CURRENT pointed at it.
        """
        final = self.path(version)
        if version.startswith(".") or "/" in version or not version:
            raise StateError(f"{version!r} is not a version name")
        if final.exists():
            if not exist_ok:
                raise StateError(f"version {version} is already published in {self.root}; versions are never rewritten")
            shutil.rmtree(staging, ignore_errors=True)
        else:
            for item in staging.rglob("*"):
                if item.is_file():  # however they were written, the files are on disk before the name moves
                    _fsync_file(item)
            fsync_dir(staging)
            os.replace(staging, final)
            fsync_dir(self.root)
        self.point(version)
        return final

    def point(self, version: str) -> None:
        """Make the published ``version`` the live one (also to roll back to an older one)."""
        if not self.exists(version):
            raise StateError(f"no version {version} in {self.root}")
        atomic_write(self.root / CURRENT, version + "\n")

    def prune(self, keep: int = 3) -> list[str]:
        """Delete all but the ``keep`` newest versions, never the live one; returns the deleted names."""
        live = self.current()
        deleted = []
        for name in self.versions()[keep:]:
            if name != live:
                shutil.rmtree(self.path(name), ignore_errors=True)
                deleted.append(name)
        return deleted

    def watch(self) -> Watch:
        return Watch(self)


class Watch:
    """Tells a reader holding a version when another one goes live: ``changed()`` reads the one-line
    pointer, nothing else, so it may be called before every batch."""

    def __init__(self, store: VersionedStore) -> None:
        self.store = store
        self.seen: str | None = None

    def changed(self) -> str | None:
        """The newly live version's name, once; None while the live one is the one last returned."""
        version = self.store.current()
        if version is None or version == self.seen:
            return None
        self.seen = version
        return version


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
