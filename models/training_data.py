"""Read and check descriptor training data: one folder of photos per object, or a gallery.csv.

Several sources may be combined (e.g. real antiquities and COIL): object ids are then prefixed with
the source folder's name. Each object gets a category (``info.json``'s ``category`` when the object
folder has one, else the source's name) used for same-category hard negatives and a stratified
held-out split, and a kind: ``catalogue`` (distinct studio views: front, base, detail; an object
folder with ``info.json``) or ``series`` (a turntable series sorted by angle, e.g. COIL).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lootwatch.models.errors import ModelError
from PIL import Image

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"})


@dataclass
class TrainingSet:
    objects: dict[str, list[Path]]  # object id -> photos (only objects with >= 2 photos)
    single_photo: list[str] = field(default_factory=list)  # objects left out: < 2 photos, no positive pair
    sha256: str = ""
    categories: dict[str, str] = field(default_factory=dict)  # object id -> category
    kinds: dict[str, str] = field(default_factory=dict)  # object id -> "catalogue" | "series"

    @property
    def n_images(self) -> int:
        return sum(len(v) for v in self.objects.values())


def read_training_sets(paths: Sequence[Path | str]) -> TrainingSet:
    """Several sources as one set; with more than one, object ids become ``<source name>/<object>``."""
    roots = [Path(p) for p in paths]
    if not roots:
        raise ModelError("no training data given")
    if len(roots) == 1:
        return read_training_set(roots[0])
    names = [p.stem if p.is_file() else p.name for p in roots]
    if len(set(names)) != len(names):
        raise ModelError(f"training sources need distinct names, got {', '.join(names)}")
    merged = TrainingSet({})
    h = hashlib.sha256()
    for name, path in zip(names, roots, strict=True):
        part = read_training_set(path)
        for obj, photos in part.objects.items():
            merged.objects[f"{name}/{obj}"] = photos
            merged.categories[f"{name}/{obj}"] = part.categories[obj]
            merged.kinds[f"{name}/{obj}"] = part.kinds[obj]
        merged.single_photo += [f"{name}/{obj}" for obj in part.single_photo]
        h.update(f"{name}\0{part.sha256}\0".encode())
    merged.sha256 = h.hexdigest()
    return merged


def read_training_set(path: Path) -> TrainingSet:
    """The photos under ``path`` grouped by object, every one opened and checked.

    Refuses (ModelError) an empty source, unreadable photos (all listed) and fewer than two objects
    with a positive pair; objects with a single photo are reported in ``single_photo``.
    """
    path = Path(path)
    if not path.exists():
        raise ModelError(f"training data {path} does not exist")
    groups = _from_csv(path) if path.is_file() else _from_folders(path)
    if not groups:
        raise ModelError(f"training data {path}: no photos (expected a sub-folder of photos per object)")
    bad = []
    for photos in groups.values():
        for p in photos:
            try:
                with Image.open(p) as img:
                    img.load()
            except Exception as exc:  # PIL raises many types for corrupt files
                bad.append(f"{p}: {exc}")
    if bad:
        listed = "\n  ".join(bad[:20]) + (f"\n  ... and {len(bad) - 20} more" if len(bad) > 20 else "")
        raise ModelError(f"training data {path}: {len(bad)} unreadable image(s):\n  {listed}")
    single = sorted(k for k, v in groups.items() if len(v) < 2)
    usable = {k: sorted(v) for k, v in sorted(groups.items()) if len(v) >= 2}
    if len(usable) < 2:
        raise ModelError(
            f"training data {path}: {len(usable)} object(s) with at least two photos; triplet training needs "
            f"two or more (objects with fewer than two photos: {', '.join(single) or 'none'})"
        )
    root = path if path.is_dir() else path.parent
    source = path.stem if path.is_file() else path.name
    categories, kinds = {}, {}
    for obj in usable:
        info = _info(root / obj) if path.is_dir() else None
        categories[obj] = str((info or {}).get("category") or source)
        kinds[obj] = "catalogue" if info is not None or path.is_file() else "series"
    return TrainingSet(usable, single, _hash(usable, root), categories, kinds)


def _info(folder: Path) -> dict[str, object] | None:
    """An object folder's info.json (name, era, category...), None when absent or unreadable."""
    f = folder / "info.json"
    if not f.is_file():
        return None
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _from_folders(root: Path) -> dict[str, list[Path]]:
    groups: dict[str, list[Path]] = {}
    stray = [p.name for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if stray:
        raise ModelError(
            f"training data {root}: photos directly in the folder ({', '.join(stray[:5])}); "
            "put each object's photos in its own sub-folder"
        )
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        photos = [p for p in sub.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        groups[sub.name] = photos
    return groups


def _from_csv(csv_path: Path) -> dict[str, list[Path]]:
    groups: dict[str, list[Path]] = {}
    with csv_path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"image", "artefact_id"} <= set(reader.fieldnames):
            raise ModelError(f"{csv_path}: expected columns image,artefact_id (benchmark gallery.csv layout)")
        for n, row in enumerate(reader, start=2):
            image, artefact = (row.get("image") or "").strip(), (row.get("artefact_id") or "").strip()
            if not image or not artefact:
                raise ModelError(f"{csv_path} line {n}: empty image or artefact_id")
            groups.setdefault(artefact, []).append(csv_path.parent / image)
    missing = [str(p) for v in groups.values() for p in v if not p.is_file()]
    if missing:
        raise ModelError(f"{csv_path}: {len(missing)} listed photo(s) missing, e.g. {', '.join(missing[:5])}")
    return groups


def _hash(groups: dict[str, list[Path]], root: Path) -> str:
    h = hashlib.sha256()
    for obj, photos in sorted(groups.items()):
        for p in sorted(photos):
            rel = p.relative_to(root) if p.is_relative_to(root) else p
            h.update(f"{obj}\0{rel.as_posix()}\0".encode())
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()
