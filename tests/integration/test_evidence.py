"""Evidence bundles on a real PostgreSQL and blob store: complete, verifiable, byte-for-byte
reproducible, from Python and from the ``lootwatch evidence`` command."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from lootwatch.alerts.evidence import build_evidence_zip
from lootwatch.alerts.review import decide
from lootwatch.alerts.rules import AlertRules

from lootwatch.core.db import Database
from lootwatch.core.errors import NotFoundError
from lootwatch.core.settings import Settings
from lootwatch.core.storage import PackFile
from lootwatch.core.warc import page_record
from tests.fixtures.photos import jpeg, restage, textured
from tests.integration.test_rules import INDEX, MODEL, World, make_world

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]
PAGE = b"<html><head><title>Bronze figure, lot 1</title></head><body>Provenance: private</body></html>"


@pytest.fixture
def world(db: Database, settings: Settings) -> World:
    return make_world(db, settings)


def _alert(world: World) -> dict:
    """An escalated alert with two listing photos, a page snapshot and a relisting."""
    gallery = world.artefact("A1", jpeg(textured(1)))
    shown = jpeg(restage(textured(1)))
    listing, (p1, p2) = world.listing("lot-1", [shown, jpeg(textured(5))])
    world.match(p1, "A1", 0.92, gallery)
    world.match(p2, "A1", 0.41, gallery, rank=3)
    # as the crawler keeps pages: a record of its WARC file
    pack = PackFile(world.store.root, "pages", ".warc.gz")
    rel = pack.append([page_record("https://example.test/lot/lot-1", PAGE, None)])[0]
    pack.close()
    sha = hashlib.sha256(PAGE).hexdigest()
    world.db.execute(
        """INSERT INTO page_snapshots (listing_id, url, sha256, stored_path, http_status, fetched_at)
           VALUES (%s, 'https://example.test/lot/lot-1', %s, %s, 200, '2024-05-01T09:59:00Z')""",
        (listing, sha, rel),
    )
    (item_id,) = world.decide([p1, p2], AlertRules(threshold=0.8))
    world.db.execute(
        "UPDATE listings SET claimed_canonical_url = 'https://museum.example/lot/9' WHERE id = %s", (listing,)
    )
    relisting, _ = world.listing("lot-2", [shown])
    world.decide([p1], AlertRules(threshold=0.8))
    decide(world.db, item_id, "escalate", "ana", "ask the museum")
    return {
        "item": item_id,
        "listing": listing,
        "relisting": relisting,
        "photos": (p1, p2),
        "gallery": gallery,
    }


def _open(data: bytes) -> tuple[zipfile.ZipFile, dict]:
    zf = zipfile.ZipFile(io.BytesIO(data))
    return zf, json.loads(zf.read("manifest.json"))


def test_bundle_holds_the_evidence_with_verifiable_hashes(world: World) -> None:
    a = _alert(world)
    zf, manifest = _open(build_evidence_zip(world.db, world.store, a["item"]))
    p1, p2 = a["photos"]
    lid, rid = a["listing"], a["relisting"]
    assert zf.namelist() == sorted(zf.namelist())
    assert set(zf.namelist()) == {
        "SHA256SUMS",
        "manifest.json",
        f"gallery/{a['gallery']}.jpg",
        f"listings/{lid}/page-1.html",
        f"listings/{lid}/photo-0-{p1}.jpg",
        f"listings/{lid}/photo-1-{p2}.jpg",
        f"listings/{rid}/photo-0-{p1}.jpg",
    }
    assert zf.read(f"listings/{lid}/page-1.html") == PAGE  # the body as fetched, not the gzip
    # every file's hash is in the manifest and in SHA256SUMS, and is right
    for name, sha in manifest["files"].items():
        assert hashlib.sha256(zf.read(name)).hexdigest() == sha
    sums: dict[str, str] = {}
    for line in zf.read("SHA256SUMS").decode().splitlines():
        sha, name = line.split("  ", 1)
        sums[name] = sha
    assert sums["manifest.json"] == hashlib.sha256(zf.read("manifest.json")).hexdigest()
    assert {k: v for k, v in sums.items() if k != "manifest.json"} == manifest["files"]

    alerted, relisted = manifest["listings"]
    assert (alerted["id"], alerted["role"], relisted["id"], relisted["role"]) == (
        lid,
        "alerted",
        rid,
        "relisting",
    )
    assert relisted["link"]["shared_photo_id"] == p1
    # the listing's URL is the one fetched; the page's canonical is kept apart as the seller's claim
    assert alerted["claimed_canonical_url"] == "https://museum.example/lot/9" != alerted["url"]
    assert relisted["claimed_canonical_url"] == ""
    (snapshot,) = alerted["snapshots"]
    assert snapshot["sha256_matches"] and snapshot["fetched_at"] == "2024-05-01T09:59:00+00:00"
    assert [p["fetched_at"] for p in alerted["photos"]] == ["2024-05-01T10:00:00+00:00"] * 2
    assert all(p["sha256_matches"] for p in alerted["photos"])
    assert [(m["photo_id"], m["score"], m["scores"]) for m in manifest["matches"]] == [
        (p1, 0.92, {"descriptor": 0.92}),
        (p2, 0.41, {"descriptor": 0.41}),
    ]
    assert (manifest["model_versions"], manifest["index_versions"]) == ([MODEL], [INDEX])
    assert manifest["review_item"]["rule_evidence"]["passed_by"] == "photos"
    assert manifest["artefact"]["provenance"] == "TR-1"
    assert [(d["actor"], d["to_state"], d["comment"]) for d in manifest["decisions"]] == [
        ("ana", "escalated", "ask the museum")
    ]


def test_same_inputs_same_bytes_and_a_decision_changes_them(world: World) -> None:
    a = _alert(world)
    first = build_evidence_zip(world.db, world.store, a["item"])
    second = build_evidence_zip(world.db, world.store, a["item"])
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()
    assert {i.date_time for i in zipfile.ZipFile(io.BytesIO(first)).infolist()} == {(1980, 1, 1, 0, 0, 0)}
    decide(world.db, a["item"], "confirm", "ben", "museum confirms")
    third = build_evidence_zip(world.db, world.store, a["item"])
    assert third != first
    assert [d["to_state"] for d in _open(third)[1]["decisions"]] == ["escalated", "confirmed"]


def test_a_lost_or_altered_blob_is_reported_not_hidden(world: World) -> None:
    a = _alert(world)
    gallery_path = world.db.fetchone("SELECT stored_path FROM artefact_photos WHERE id = %s", (a["gallery"],))
    assert gallery_path is not None
    world.store.path(gallery_path["stored_path"]).unlink()
    photo = world.db.fetchone("SELECT stored_path FROM listing_photos WHERE id = %s", (a["photos"][1],))
    assert photo is not None
    world.store.path(photo["stored_path"]).write_bytes(b"tampered")
    zf, manifest = _open(build_evidence_zip(world.db, world.store, a["item"]))
    (gallery,) = manifest["gallery_photos"]
    assert gallery["file"] is None and "not in the store" in gallery["missing"]
    assert [p["sha256_matches"] for p in manifest["listings"][0]["photos"]] == [True, False]
    assert not any(n.startswith("gallery/") for n in zf.namelist())


def test_unknown_item_is_a_clear_error(world: World) -> None:
    with pytest.raises(NotFoundError, match="review item 404 does not exist"):
        build_evidence_zip(world.db, world.store, 404)


def _cli(world: World, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LOOTWATCH_DATABASE_URL": world.db.url,
        "LOOTWATCH_REDIS_URL": "redis://127.0.0.1:1/0",  # named, never contacted
        "LOOTWATCH_DATA_DIR": str(world.settings.data_dir),
    }
    # registers the command whether or not lootwatch.cli lists it yet
    code = (
        "import lootwatch.cli as c; m = 'lootwatch.cli.evidence'; "
        "c.COMMAND_MODULES.count(m) or c.COMMAND_MODULES.append(m); c.main()"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


@pytest.mark.slow
def test_cli_writes_the_same_zip_twice(world: World, tmp_path: Path) -> None:
    a = _alert(world)
    runs = [_cli(world, tmp_path, "evidence", str(a["item"]), "--out", str(tmp_path / f"{n}.zip")) for n in "ab"]
    for run in runs:
        assert run.returncode == 0, run.stderr
    first, second = (tmp_path / "a.zip").read_bytes(), (tmp_path / "b.zip").read_bytes()
    assert first == second == build_evidence_zip(world.db, world.store, a["item"])
    assert hashlib.sha256(first).hexdigest() in runs[0].stdout
    default = _cli(world, tmp_path, "evidence", str(a["item"]))
    assert default.returncode == 0 and (tmp_path / f"evidence-{a['item']}.zip").read_bytes() == first
    missing = _cli(world, tmp_path, "evidence", "999")
    assert missing.returncode == 2 and "review item 999 does not exist" in missing.stderr
