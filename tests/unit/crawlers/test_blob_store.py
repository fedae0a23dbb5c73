"""The evidence blob store: content-addressed, never overwritten, with or without O_TMPFILE."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import pytest

from lootwatch.core.storage import BlobStore


@pytest.mark.parametrize("anonymous", [True, False])
def test_blobs_are_kept_by_content_and_never_replaced(tmp_path: Path, anonymous: bool) -> None:
    store = BlobStore(tmp_path)
    if not anonymous:  # as on a file system without O_TMPFILE: write-then-rename
        store._anonymous_files["ok"] = False
    page = b"<html><body>lot 7</body></html>" * 50
    sha, rel = store.put("pages", page, ".html", compress=True)
    assert sha == hashlib.sha256(page).hexdigest() and rel == f"pages/{sha[:2]}/{sha}.html.gz"
    assert gzip.decompress(store.path(rel).read_bytes()) == page == store.read(rel)
    assert store.path(rel).stat().st_mode & 0o777 == 0o600

    photo = os.urandom(70_000)
    _, photo_rel = store.put("photos", photo, ".jpg")
    store.path(photo_rel).write_bytes(b"kept")  # a blob already there is never replaced
    assert store.put("photos", photo, ".jpg")[1] == photo_rel
    if anonymous:  # linkat refuses a name that exists: a blob written meanwhile is kept too
        store._write_new(store.path(photo_rel), b"other")
    assert store.path(photo_rel).read_bytes() == b"kept"
    assert sorted(p.name for p in store.path(photo_rel).parent.iterdir()) == [Path(photo_rel).name]
