"""atomic_write: the destination holds the old bytes or all of the new ones, never a part."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lootwatch.core.files import atomic_write


def test_writes_bytes_text_and_writer_functions(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.bin"  # folders made on the way
    atomic_write(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    atomic_write(target, "h\u00e9")
    assert target.read_bytes() == "h\u00e9".encode()
    atomic_write(target, lambda fh: fh.write(b"streamed"), durable=False)
    assert target.read_bytes() == b"streamed"
    assert os.listdir(target.parent) == ["out.bin"]  # no temporary file left beside it


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "card.json"
    target.write_text("old")

    def half_then_fail(fh) -> None:  # noqa: ANN001 - a binary file
        fh.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, half_then_fail)
    assert target.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["card.json"]


def test_mode_is_the_requested_one_less_the_umask(tmp_path: Path) -> None:
    private = tmp_path / "private"
    atomic_write(private, b"x", mode=0o600)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    shared = tmp_path / "shared"
    old = os.umask(0o022)
    try:
        atomic_write(shared, b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o644
