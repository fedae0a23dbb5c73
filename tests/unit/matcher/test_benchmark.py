from __future__ import annotations

from pathlib import Path

import pytest
from lootwatch.matcher.benchmark import open_image, read_benchmark
from lootwatch.matcher.errors import BenchmarkError

from lootwatch.core.errors import BadInputError


def rewrite(path: Path, text: str) -> None:
    path.write_text(text)


def test_reads_the_layout(tiny_bench: Path) -> None:
    bench = read_benchmark(tiny_bench)
    assert len(bench.gallery) == 6 and len(bench.listings) == 8
    assert bench.artefacts == ["A0001", "A0002", "A0003"]
    assert bench.photos_per_artefact == {"A0001": 2, "A0002": 2, "A0003": 2}
    assert bench.collection_of["A0002"] == "other"
    assert [r.artefact_id for r in bench.listings[-2:]] == [None, None]  # empty: unprotected
    assert all(r.image.is_absolute() and r.image.is_file() for r in bench.gallery)
    assert "6 gallery photos" in bench.summary() and "2 unprotected" in bench.summary()
    assert open_image(bench.listings[0].image).mode == "RGB"


def test_missing_files_are_named(tmp_path: Path, tiny_bench: Path) -> None:
    with pytest.raises(BenchmarkError, match="does not exist"):
        read_benchmark(tmp_path / "nope")
    (tiny_bench / "listings.csv").unlink()
    with pytest.raises(BenchmarkError, match="lacks listings.csv"):
        read_benchmark(tiny_bench)


def test_missing_columns_are_listed(tiny_bench: Path) -> None:
    rewrite(tiny_bench / "gallery.csv", "image,artefact\ngallery/A0001/000.png,A0001\n")
    with pytest.raises(BenchmarkError, match="lacks column.s. artefact_id, collection") as err:
        read_benchmark(tiny_bench)
    assert isinstance(err.value, BadInputError)


def test_every_row_problem_is_reported_at_once(tiny_bench: Path) -> None:
    lines = (tiny_bench / "listings.csv").read_text().splitlines()
    lines[1] = lines[1].replace("A0001", "A9999")  # unknown artefact
    lines[2] = "listings/missing.jpg,L77777,"  # no such file
    lines[3] = "gallery/A0001/000.png,L88888,A0001"  # a gallery photo used as a listing photo
    lines.append(lines[4])  # repeated row
    rewrite(tiny_bench / "listings.csv", "\n".join(lines) + "\n")
    with pytest.raises(BenchmarkError) as err:
        read_benchmark(tiny_bench)
    msg = str(err.value)
    assert "listings.csv:2: artefact_id 'A9999' has no photo in gallery.csv" in msg
    assert "missing.jpg" in msg and "1 image file(s) missing" in msg
    assert "also gallery photos" in msg
    assert "more than once" in msg


def test_empty_gallery_artefact_and_empty_csv(tiny_bench: Path) -> None:
    rewrite(tiny_bench / "gallery.csv", "image,artefact_id,collection\ngallery/A0001/000.png,,coil\n")
    with pytest.raises(BenchmarkError, match="gallery.csv:2: empty artefact_id"):
        read_benchmark(tiny_bench)
    rewrite(tiny_bench / "listings.csv", "image,listing_id,artefact_id\n")
    with pytest.raises(BenchmarkError, match="listings.csv has no rows"):
        read_benchmark(tiny_bench)


def test_unreadable_image_is_named(tiny_bench: Path) -> None:
    bad = tiny_bench / "listings" / "L00001.jpg"
    bad.write_bytes(b"<html>not an image</html>")
    with pytest.raises(BenchmarkError, match="L00001.jpg"):
        open_image(bad)
