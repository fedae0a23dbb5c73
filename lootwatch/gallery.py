"""Register protected artefacts and their photos.

Two layouts are read: a folder per artefact (``PATH/<artefact_id>/*.jpg``), or a ``gallery.csv``
in the benchmark layout (``image,artefact_id,collection``, paths relative to the CSV). Either may sit
beside an ``artefacts.csv`` (``artefact_id,title,collection,description,provenance``) that fills in the
registry fields. A photo that cannot be used is reported and recorded in ``rejections`` with the reason;
the rest of the import goes on. Importing the same photos again changes nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lootwatch.core.db import Database
from lootwatch.core.errors import BadInputError
from lootwatch.core.images import vet_image
from lootwatch.core.storage import BlobStore

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})


@dataclass(frozen=True)
class GalleryEntry:
    artefact_id: str
    collection: str
    path: Path


@dataclass
class ImportReport:
    artefacts: int = 0
    artefacts_added: int = 0  # new to the watch list, or back on it after removal
    photos_added: int = 0
    photos_known: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    @property
    def ok(self) -> bool:
        return self.photos_added + self.photos_known > 0

    @property
    def changed(self) -> bool:
        """Whatever was trained on the gallery (the instance classifier) is out of date."""
        return self.artefacts_added + self.photos_added > 0


def read_gallery(path: Path) -> tuple[list[GalleryEntry], list[tuple[str, str]]]:
    """Entries found at ``path`` plus problems the layout already shows (empty folder, missing file)."""
    if not path.exists():
        raise BadInputError(f"gallery path does not exist: {path}")
    if path.is_file() or (path / "gallery.csv").is_file():
        return _read_csv(path if path.is_file() else path / "gallery.csv")
    return _read_folders(path)


def _read_csv(csv_path: Path) -> tuple[list[GalleryEntry], list[tuple[str, str]]]:
    base = csv_path.parent
    with open(csv_path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = {"image", "artefact_id"} - set(reader.fieldnames or [])
        if missing:
            raise BadInputError(f"{csv_path}: missing column(s) {', '.join(sorted(missing))}")
        entries: list[GalleryEntry] = []
        problems: list[tuple[str, str]] = []
        for line_no, row in enumerate(reader, start=2):
            image, artefact = (row.get("image") or "").strip(), (row.get("artefact_id") or "").strip()
            if not image or not artefact:
                problems.append((f"{csv_path}:{line_no}", "row without image or artefact_id"))
                continue
            photo = base / image
            if not photo.is_file():
                problems.append((str(photo), f"file named in {csv_path.name} line {line_no} does not exist"))
                continue
            entries.append(GalleryEntry(artefact, (row.get("collection") or "").strip(), photo))
    return entries, problems


def _read_folders(root: Path) -> tuple[list[GalleryEntry], list[tuple[str, str]]]:
    entries: list[GalleryEntry] = []
    problems: list[tuple[str, str]] = []
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise BadInputError(f"{root}: no artefact folders (expected {root}/<artefact_id>/<photos>) and no gallery.csv")
    for folder in folders:
        photos = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not photos:
            problems.append((str(folder), "artefact folder holds no photos"))
        entries.extend(GalleryEntry(folder.name, "", p) for p in photos)
    return entries, problems


def read_artefact_details(root: Path) -> dict[str, dict[str, str]]:
    details_csv = (root if root.is_dir() else root.parent) / "artefacts.csv"
    if not details_csv.is_file():
        return {}
    with open(details_csv, newline="", encoding="utf-8-sig") as fh:
        return {row["artefact_id"].strip(): row for row in csv.DictReader(fh) if row.get("artefact_id")}


def import_gallery(
    db: Database,
    store: BlobStore,
    path: Path,
    *,
    max_bytes: int,
    max_pixels: int,
    progress: Callable[[Iterable[GalleryEntry]], Iterable[GalleryEntry]] = lambda it: it,
) -> ImportReport:
    entries, problems = read_gallery(path)
    details = read_artefact_details(path)
    report = ImportReport(rejected=list(problems))
    seen_artefacts: set[str] = set()
    with db.transaction() as conn:
        live_before = {r["id"] for r in conn.execute("SELECT id FROM artefacts WHERE removed_at IS NULL").fetchall()}
        for ref, reason in problems:
            conn.execute("INSERT INTO rejections (kind, ref, reason) VALUES ('gallery_photo', %s, %s)", (ref, reason))
        for entry in progress(entries):
            try:
                data = entry.path.read_bytes()
                vetted = vet_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
            except (OSError, BadInputError) as exc:
                reason = str(exc)
                report.rejected.append((str(entry.path), reason))
                conn.execute(
                    "INSERT INTO rejections (kind, ref, reason) VALUES ('gallery_photo', %s, %s)",
                    (str(entry.path), reason),
                )
                continue
            if entry.artefact_id not in seen_artefacts:
                d = details.get(entry.artefact_id, {})
                conn.execute(
                    """INSERT INTO artefacts (id, title, collection, description, provenance)
                       VALUES (%s, %s, %s, %s, %s)
                       ON CONFLICT (id) DO UPDATE SET
                         title = COALESCE(NULLIF(EXCLUDED.title, ''), artefacts.title),
                         collection = COALESCE(NULLIF(EXCLUDED.collection, ''), artefacts.collection),
                         description = COALESCE(NULLIF(EXCLUDED.description, ''), artefacts.description),
                         provenance = COALESCE(NULLIF(EXCLUDED.provenance, ''), artefacts.provenance),
                         removed_at = NULL""",
                    (
                        entry.artefact_id,
                        d.get("title", ""),
                        d.get("collection") or entry.collection,
                        d.get("description", ""),
                        d.get("provenance", ""),
                    ),
                )
                seen_artefacts.add(entry.artefact_id)
            sha, rel = store.put("gallery", data, entry.path.suffix.lower())
            row = conn.execute(
                """INSERT INTO artefact_photos (artefact_id, sha256, stored_path, source_name, width, height)
                   VALUES (%s, %s, %s, %s, %s, %s)
                   ON CONFLICT (artefact_id, sha256) DO NOTHING RETURNING id""",
                (entry.artefact_id, sha, rel, entry.path.name, vetted.width, vetted.height),
            ).fetchone()
            if row:
                report.photos_added += 1
            else:
                report.photos_known += 1
    report.artefacts = len(seen_artefacts)
    report.artefacts_added = len(seen_artefacts - live_before)
    return report
