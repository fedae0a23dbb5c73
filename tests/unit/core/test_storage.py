"""The blob store's pack files: append-only records read back like any blob."""

from __future__ import annotations

import gzip
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lootwatch.core.storage import BlobStore, PackFile, file_of
from lootwatch.core.warc import page_record


def test_pack_records_read_back_as_the_bytes_stored(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    pack = PackFile(tmp_path, "pages", ".warc.gz")
    pages = [b"<html>one</html>", b"<html>two \xff bytes</html>", b""]
    when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    first = pack.append([page_record(f"https://a.example/{i}", p, when) for i, p in enumerate(pages)])
    later = pack.append([page_record("https://a.example/3", b"<p>later</p>", None)])
    pack.close()
    assert len({file_of(rel) for rel in first + later}) == 1  # one file, appended to
    assert [store.read(rel) for rel in first + later] == [*pages, b"<p>later</p>"]
    assert file_of(first[0]).startswith("pages/packs/") and file_of(first[0]).endswith(".warc.gz")
    # the whole file is a valid multi-member gzip stream: any gzip tool reads it
    assert gzip.decompress(store.path(file_of(first[0])).read_bytes()).count(b"WARC/1.") == 4


def test_a_new_pack_is_started_past_its_size_and_never_reopened(tmp_path: Path) -> None:
    pack = PackFile(tmp_path, "pages", ".warc.gz", max_bytes=1)
    a = pack.append([page_record("https://a.example/1", b"a", None)])[0]
    b = pack.append([page_record("https://a.example/2", b"b", None)])[0]
    pack.close()
    assert file_of(a) != file_of(b)
    assert BlobStore(tmp_path).read(a) == b"a" and BlobStore(tmp_path).read(b) == b"b"


def test_a_record_cut_short_or_damaged_is_an_os_error(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    pack = PackFile(tmp_path, "pages", ".warc.gz")
    rel = pack.append([page_record("https://a.example/1", b"<html>x</html>" * 50, None)])[0]
    pack.close()
    file, span = rel.rsplit("@", 1)
    offset, length = (int(v) for v in span.split("+"))
    with pytest.raises(OSError, match="ends before"):
        store.read(f"{file}@{offset}+{length + 10}")
    path = store.path(file)
    data = bytearray(path.read_bytes())
    data[length // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(OSError):
        store.read(rel)


def test_file_of_keeps_an_at_sign_that_is_part_of_a_name() -> None:
    assert file_of("pages/packs/2026-03/x.warc.gz@120+64") == "pages/packs/2026-03/x.warc.gz"
    assert file_of("photos/ab/name@home.jpg") == "photos/ab/name@home.jpg"
    assert file_of("photos/ab/abc.jpg") == "photos/ab/abc.jpg"


def test_a_failed_append_leaves_the_pack_for_a_new_one(tmp_path: Path) -> None:
    pack = PackFile(tmp_path, "pages", ".warc.gz")
    first = pack.append([page_record("https://a.example/1", b"one", None)])[0]
    assert pack._fd is not None
    os.close(pack._fd)  # the write fails (as on a full disk) with bytes of unknown length written
    with pytest.raises(OSError):
        pack.append([page_record("https://a.example/2", b"two", None)])
    third = pack.append([page_record("https://a.example/3", b"three", None)])[0]
    pack.close()
    assert file_of(third) != file_of(first)
    assert BlobStore(tmp_path).read(first) == b"one" and BlobStore(tmp_path).read(third) == b"three"
