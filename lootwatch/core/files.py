"""Writing a file so that a reader, or a crash, never sees half of it.

``atomic_write`` writes a temporary file in the destination's folder (same file system, so the
rename is atomic), optionally fsyncs it, renames it over the destination and fsyncs the folder
so the new name survives a power cut. A failed write removes the temporary file and leaves the
destination as it was.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

Writer = Callable[[BinaryIO], object]


def atomic_write(path: str | Path, data: bytes | str | Writer, *, durable: bool = True, mode: int = 0o666) -> None:
    """Replace ``path`` with ``data`` (bytes, text as UTF-8, or a function writing to a binary file).

    ``durable``: fsync the file and its folder before returning (a cache may skip it).
    ``mode``: the new file's permission bits, less the umask.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        fd = os.open(tmp, flags, mode)
    except FileNotFoundError:  # no folder yet (or removed under us): make it, then try once more
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, flags, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data.encode() if isinstance(data, str) else data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def fsync_dir(folder: str | Path) -> None:
    """Make the names in ``folder`` (a rename, a new entry) durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
