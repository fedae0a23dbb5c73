"""The synthetic gallery and listing photos: layout, determinism, views, answer key."""

from __future__ import annotations

import csv
import io
import json
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lootwatch.core.errors import BadInputError
from lootwatch.core.images import vet_image
from lootwatch.demo.catalogue import SCRIPT_TITLE
from lootwatch.demo.site import serve
from lootwatch.demo.synth import MIN_GAP_DEG, DemoData, angle_gap, generate

SMALL = {
    "seed": 3,
    "n_protected": 5,
    "n_unprotected": 3,
    "gallery_views": 4,
    "listing_views": (1, 2),
    "size": 96,
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoData:
    return generate(tmp_path_factory.mktemp("demo-a"), **SMALL)  # type: ignore[arg-type]


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _lots(demo: DemoData) -> list[dict]:
    return json.loads(demo.lots_json.read_text(encoding="utf-8"))


def test_gallery_csv_has_the_benchmark_layout(demo: DemoData) -> None:
    header = demo.gallery_csv.read_text(encoding="utf-8").splitlines()[0]
    assert header == "image,artefact_id,collection"
    rows = _rows(demo.gallery_csv)
    assert len(rows) == demo.n_gallery_photos == 5 * 4
    ids = sorted({r["artefact_id"] for r in rows})
    assert ids == [f"DEMO-{i:03d}" for i in range(1, 6)]
    for r in rows:
        assert not Path(r["image"]).is_absolute()
        assert r["image"].startswith(f"gallery/{r['artefact_id']}/")
        with Image.open(demo.out_dir / r["image"]) as img:
            assert img.format == "PNG" and img.size == (96, 96)
    assert 2 <= len({r["collection"] for r in rows}) <= 3


def test_artefacts_csv_describes_every_protected_artefact(demo: DemoData) -> None:
    header = demo.artefacts_csv.read_text(encoding="utf-8").splitlines()[0]
    assert header == "artefact_id,title,collection,description,provenance"
    rows = _rows(demo.artefacts_csv)
    assert {r["artefact_id"] for r in rows} == {r["artefact_id"] for r in _rows(demo.gallery_csv)}
    for r in rows:
        assert r["title"] and r["description"] and "theft report" in r["provenance"]


def test_listing_photos_and_thumbnails_exist_and_are_vettable_jpegs(demo: DemoData) -> None:
    names = [f for lot in _lots(demo) for f in lot["photos"]]
    assert len(names) == demo.n_listing_photos == len(set(names))
    for name in names:
        data = (demo.site_dir / "photos" / name).read_bytes()
        vetted = vet_image(data)
        assert vetted.format == "JPEG"
        with Image.open(demo.site_dir / "photos" / "thumb" / name) as thumb:
            assert thumb.format == "JPEG" and max(thumb.size) <= 96
    vet_image((demo.out_dir / _rows(demo.gallery_csv)[0]["image"]).read_bytes())


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(demo: DemoData, tmp_path: Path) -> None:
    again = generate(tmp_path / "again", **SMALL)  # type: ignore[arg-type]

    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    first, second = files(demo.out_dir), files(again.out_dir)
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []
    other = generate(tmp_path / "other", **{**SMALL, "seed": 4})  # type: ignore[arg-type]
    g = "gallery/DEMO-001/00.png"
    assert (other.out_dir / g).read_bytes() != first[g]


def test_listing_views_are_other_angles_and_other_pixels(demo: DemoData) -> None:
    views = json.loads(demo.views_json.read_text())
    checked = 0
    for name, view in views["photos"].items():
        gallery_angles = views["gallery"].get(view["object"])
        if gallery_angles is None:
            continue  # an unprotected object has no gallery
        assert all(angle_gap(view["angle"], g) >= MIN_GAP_DEG for g in gallery_angles)
        with Image.open(demo.site_dir / "photos" / name) as img:
            photo = np.asarray(img.convert("RGB").resize((96, 96)), np.float32)
        for k in range(len(gallery_angles)):
            with Image.open(demo.out_dir / "gallery" / view["object"] / f"{k:02d}.png") as g_img:
                studio = np.asarray(g_img.convert("RGB"), np.float32)
            assert np.abs(photo - studio).mean() > 8  # re-staged: not a copy of a gallery view
        checked += 1
    assert checked >= 3


def test_gallery_views_turn_the_painted_pattern(demo: DemoData) -> None:
    # the decoration turns with the vessel: two views of one artefact differ inside the silhouette
    a = np.asarray(Image.open(demo.out_dir / "gallery/DEMO-001/00.png").convert("RGB"), np.float32)
    b = np.asarray(Image.open(demo.out_dir / "gallery/DEMO-001/02.png").convert("RGB"), np.float32)
    assert np.abs(a - b).mean() > 2


def test_answer_key_covers_every_lot_and_matches_the_photos(demo: DemoData) -> None:
    lots = _lots(demo)
    answers = json.loads(demo.answers_json.read_text())
    views = json.loads(demo.views_json.read_text())
    assert set(answers) == {lot["id"] for lot in lots}
    assert len(lots) == demo.n_lots == 3 + 3  # 2/3 of 5 protected (rounded) + every unprotected
    assert sum(1 for v in answers.values() if v) == demo.n_protected_lots == 3
    for lot in lots:
        shown = {views["photos"][f]["object"] for f in lot["photos"]}
        assert len(shown) == 1  # a lot shows one object
        obj, expected = shown.pop(), answers[lot["id"]]
        assert obj == expected if expected else obj.startswith("U-")
    for style in ("plain", "jsonld", "js"):
        in_style = [answers[lot["id"]] for lot in lots if lot["style"] == style]
        assert any(in_style) and not all(in_style), style
    assert not (demo.site_dir / "answers.json").exists()


def test_lot_fields_and_the_one_script_title(demo: DemoData) -> None:
    lots = _lots(demo)
    registry_titles = {r["title"] for r in _rows(demo.artefacts_csv)}
    assert sum(1 for lot in lots if lot["title"] == SCRIPT_TITLE) == 1
    for lot in lots:
        assert lot["title"] not in registry_titles
        assert lot["price_text"].startswith(lot["currency"]) and lot["amount"] > 0
        assert lot["status"] in {"open", "sold", "ended"} and lot["seller"] and lot["end_date"]
        assert 1 <= len(lot["photos"]) <= 2


def test_generated_site_serves_every_lot_in_its_style(demo: DemoData) -> None:
    routes = {"plain": "/plain/lot/", "jsonld": "/catalogue/item/", "js": "/api/lots/"}
    with serve(demo.site_dir) as site:
        for lot in _lots(demo):
            suffix = ".json" if lot["style"] == "js" else ""
            with urllib.request.urlopen(f"{site.url}{routes[lot['style']]}{lot['id']}{suffix}") as resp:
                assert resp.status == 200
            with urllib.request.urlopen(f"{site.url}/photos/{lot['photos'][0]}") as resp:
                assert Image.open(io.BytesIO(resp.read())).format == "JPEG"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"gallery_views": 10},
        {"gallery_views": 0},
        {"listing_views": (2, 1)},
        {"n_protected": 0},
        {"size": 10},
    ],
)
def test_impossible_settings_are_refused(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(BadInputError):
        generate(tmp_path, **kwargs)


@pytest.mark.slow
def test_default_generation_is_fast(tmp_path: Path) -> None:
    start = time.process_time()  # CPU time: the wall clock depends on who else shares the cores
    data = generate(tmp_path)
    elapsed = time.process_time() - start
    assert (data.n_protected, data.n_unprotected, data.n_gallery_photos) == (8, 16, 32)
    assert data.n_protected_lots == 5 and data.n_lots == 21
    assert elapsed < 30, f"generation took {elapsed:.1f} s of CPU"


def test_gallery_import_reads_the_generated_gallery(demo: DemoData) -> None:
    from lootwatch.gallery import read_gallery

    entries, problems = read_gallery(demo.gallery_csv)
    assert problems == []
    assert len(entries) == demo.n_gallery_photos
    assert {e.artefact_id for e in entries} == {f"DEMO-{i:03d}" for i in range(1, 6)}
