"""Published index versions under ``settings.index_dir`` and the pointer to the live one.

Layout::

    <index_dir>/<version>/index.faiss, meta.json    one folder per published index, never rewritten
    <index_dir>/<version>/descriptor.pt            the descriptor fine-tuned on this gallery, when
                                                   the index was built with one (matcher.tuning)
    <index_dir>/CURRENT                             the live version's folder name (one line)

``publish`` writes the new version into a hidden folder, renames it into place, then replaces
CURRENT (write-then-rename), so a reader sees either the old version or the complete new one.
Workers hold an :class:`IndexWatcher` and pick up a newly published version without a restart.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lootwatch.matcher.errors import IndexNotFoundError
from lootwatch.matcher.index import META_FILE, GalleryIndex
from lootwatch.matcher.views import GalleryViews

CURRENT = "CURRENT"
DESCRIPTOR_FILE = "descriptor.pt"


def publish(index: GalleryIndex, index_dir: Path, descriptor: Any = None) -> Path:
    """Save ``index`` as ``<index_dir>/<index.version>/`` and make it the live version.

    ``descriptor``: the model the index was built with when it is not the configured one (a
    gallery fine-tune); it is stored beside the index, full precision, so that every reader
    embeds with exactly the weights that embedded the gallery.
    """
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    # Versions are immutable: each publish gets a fresh time stamp (the next second if taken).
    index.restamp()
    while (index_dir / index.version).exists():
        time.sleep(0.2)
        index.restamp()
    final = index_dir / index.version
    staging = Path(tempfile.mkdtemp(dir=index_dir, prefix=f".{index.version}."))
    try:
        index.save(staging)
        if descriptor is not None:
            from lootwatch.models.descriptor import save_checkpoint

            save_checkpoint(descriptor, staging / DESCRIPTOR_FILE, half=False)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _write_current(index_dir, index.version)
    return final


def _write_current(index_dir: Path, version: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=index_dir, prefix=".CURRENT.")
    with os.fdopen(fd, "w") as fh:
        fh.write(version + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, index_dir / CURRENT)


def current_version(index_dir: Path) -> str | None:
    try:
        text = (Path(index_dir) / CURRENT).read_text().strip()
    except FileNotFoundError:
        return None
    return text or None


def descriptor_spec_for(version_dir: Path, configured: str) -> str:
    """The descriptor that embeds queries for the index in ``version_dir``: its own, else ``configured``."""
    bundled = Path(version_dir) / DESCRIPTOR_FILE
    return str(bundled) if bundled.is_file() else configured


def live_descriptor_spec(index_dir: Path, configured: str) -> str:
    """The descriptor of the live index version (see :func:`descriptor_spec_for`)."""
    version = current_version(index_dir)
    return configured if version is None else descriptor_spec_for(Path(index_dir) / version, configured)


def live_views(index_dir: Path) -> GalleryViews:
    """How the live index embedded its gallery photos (plain when there is no live index)."""
    version = current_version(index_dir)
    if version is None:
        return GalleryViews()
    try:
        meta = json.loads((Path(index_dir) / version / META_FILE).read_text())
    except FileNotFoundError as exc:
        raise IndexNotFoundError(f"the live index {version} in {index_dir} has no {META_FILE}") from exc
    return GalleryViews.from_dict((meta.get("options") or {}).get("views"))


def load_current(index_dir: Path, **expect: Any) -> GalleryIndex:
    """The live index; ``expect_card=`` / ``expect_card_version=`` as in :meth:`GalleryIndex.load`."""
    version = current_version(index_dir)
    if version is None:
        raise IndexNotFoundError(f"no published gallery index in {index_dir}; run `lootwatch index build`")
    return GalleryIndex.load(Path(index_dir) / version, **expect)


def prune(index_dir: Path, keep: int = 3) -> list[str]:
    """Delete all but the ``keep`` newest versions (never the live one); returns the deleted names."""
    index_dir = Path(index_dir)
    live = current_version(index_dir)
    versions = sorted(
        (p for p in index_dir.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.name,  # names start with a UTC timestamp
        reverse=True,
    )
    deleted = []
    for p in versions[keep:]:
        if p.name != live:
            shutil.rmtree(p, ignore_errors=True)
            deleted.append(p.name)
    return deleted


class IndexWatcher:
    """Holds the live index and reloads it when CURRENT names another version.

    CURRENT is read at most once per ``poll_s`` seconds; a failing reload (e.g. an index built
    by another descriptor) keeps serving the previous index and reports through ``on_error``.
    """

    def __init__(
        self,
        index_dir: Path,
        *,
        poll_s: float = 10.0,
        on_error: Callable[[Exception], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        **expect: Any,
    ) -> None:
        self.index_dir = Path(index_dir)
        self.poll_s = poll_s
        self.on_error = on_error
        self.clock = clock
        self.expect = expect
        self.index = load_current(self.index_dir, **expect)
        self._checked = clock()

    def get(self) -> GalleryIndex:
        now = self.clock()
        if now - self._checked >= self.poll_s:
            self._checked = now
            self.refresh()
        return self.index

    def refresh(self) -> bool:
        """Reload now if a new version is live; True when the index changed."""
        version = current_version(self.index_dir)
        if version is None or version == self.index.version:
            return False
        try:
            self.index = GalleryIndex.load(self.index_dir / version, **self.expect)
        except Exception as exc:
            if self.on_error is None:
                raise
            self.on_error(exc)
            return False
        return True
