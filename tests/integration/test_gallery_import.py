from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PIL import Image

from lootwatch.core.db import Database
from lootwatch.core.errors import BadInputError
from lootwatch.core.storage import BlobStore
from lootwatch.gallery import import_gallery

pytestmark = pytest.mark.postgres


def _photo(path: Path, colour: tuple[int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 24), colour).save(path)


def _import(db: Database, tmp_path: Path, path: Path):  # noqa: ANN202
    return import_gallery(db, BlobStore(tmp_path / "store"), path, max_bytes=10**7, max_pixels=10**7)


def test_folder_layout_records_bad_photos_and_keeps_the_rest(db: Database, tmp_path: Path) -> None:
    root = tmp_path / "gallery"
    _photo(root / "A1" / "front.png", (200, 10, 10))
    _photo(root / "A1" / "back.png", (10, 200, 10))
    (root / "A1" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    _photo(root / "A2" / "only.png", (10, 10, 200))
    (root / "A3").mkdir()  # an artefact folder with no photos
    report = _import(db, tmp_path, root)
    assert (report.artefacts, report.photos_added) == (2, 3)
    reasons = dict(report.rejected)
    assert "corrupt" in reasons[str(root / "A1" / "broken.jpg")]
    assert reasons[str(root / "A3")] == "artefact folder holds no photos"
    recorded = db.fetchall("SELECT ref, reason FROM rejections ORDER BY ref")
    assert {r["ref"] for r in recorded} == {str(root / "A1" / "broken.jpg"), str(root / "A3")}
    # importing again adds nothing and duplicates nothing
    again = _import(db, tmp_path, root)
    assert (again.photos_added, again.photos_known) == (0, 3)
    assert db.fetchone("SELECT count(*) AS n FROM artefact_photos")["n"] == 3  # type: ignore[index]


def test_benchmark_csv_layout_with_missing_file_and_details(db: Database, tmp_path: Path) -> None:
    bench = tmp_path / "bench"
    _photo(bench / "gallery" / "X1" / "0.png", (1, 2, 3))
    rows = [("gallery/X1/0.png", "X1", "museum-a"), ("gallery/X1/missing.png", "X1", "museum-a")]
    with open(bench / "gallery.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", "artefact_id", "collection"])
        writer.writerows(rows)
    (bench / "artefacts.csv").write_text(
        "artefact_id,title,collection,description,provenance\nX1,Bronze mirror,museum-a,,Interpol 2019/123\n"
    )
    report = _import(db, tmp_path, bench)
    assert report.photos_added == 1
    assert "does not exist" in dict(report.rejected)[str(bench / "gallery" / "X1" / "missing.png")]
    artefact = db.fetchone("SELECT * FROM artefacts WHERE id = 'X1'")
    assert artefact is not None
    assert (artefact["title"], artefact["collection"], artefact["provenance"]) == (
        "Bronze mirror",
        "museum-a",
        "Interpol 2019/123",
    )


def test_bad_layouts_are_refused(db: Database, tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="does not exist"):
        _import(db, tmp_path, tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInputError, match="no artefact folders"):
        _import(db, tmp_path, tmp_path / "empty")
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("file,id\nx.png,A\n")
    with pytest.raises(BadInputError, match="missing column"):
        _import(db, tmp_path, bad_csv)
