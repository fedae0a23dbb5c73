"""Content-addressed file store under the data dir: nothing is ever overwritten.

A blob lives at ``<root>/<kind>/<sha[:2]>/<sha><suffix>``; storing the same bytes twice is a
no-op, so evidence keeps the exact bytes first fetched.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# zlib's default level: on HTML, level 9 took about twice the time for well under 1% smaller files
GZIP_LEVEL = 6


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class BlobStore:
    root: Path
    # folders known to exist: a crawl stores thousands of blobs in 256 folders per kind, and a
    # mkdir per blob cost a system call and an exception each time
    _folders: set[Path] = field(default_factory=set, init=False, repr=False, compare=False)

    def put(
        self, kind: str, data: bytes, suffix: str = "", *, compress: bool = False, sha: str | None = None
    ) -> tuple[str, str]:
        """Store ``data``; return (sha256 of the original bytes, path relative to root).

        ``sha``: the sha256 of ``data`` when the caller has it already (hashed once, not twice)."""
        sha = sha or sha256_bytes(data)
        rel = f"{kind}/{sha[:2]}/{sha}{suffix}{'.gz' if compress else ''}"
        dest = self.root / rel
        if not dest.exists():
            self._write_new(dest, gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0) if compress else data)
        return sha, rel

    def _write_new(self, dest: Path, payload: bytes) -> None:
        """Write-then-rename: a crash never leaves a half-written blob under the final name."""
        if dest.parent not in self._folders:
            dest.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(dest.parent)
        try:
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        except FileNotFoundError:  # the folder was removed under us: make it again
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, dest)

    def path(self, rel: str) -> Path:
        return self.root / rel

    def read(self, rel: str) -> bytes:
        data = (self.root / rel).read_bytes()
        return gzip.decompress(data) if rel.endswith(".gz") else data
