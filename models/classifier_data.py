"""Training photos of the instance classifier: reading a gallery, the min-images rule, the split.

A gallery is either a benchmark ``gallery.csv`` (``image,artefact_id,collection``, paths relative
to the CSV's folder) or a folder holding one sub-folder of photos per artefact.
"""

from __future__ import annotations

import csv
import hashlib
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lootwatch.models.errors import ModelError

from lootwatch.core.gallery_photos import GalleryPhoto

__all__ = ["GalleryPhoto", "Split", "TrainingSet", "read_gallery", "select_artefacts", "split_per_artefact"]

DEFAULT_MIN_IMAGES = 1  # every artefact gets a class: one photo still gives its listing-style views
# (the paper used --min-images 3; an artefact left out could only ever be matched by the descriptor)
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})


@dataclass
class TrainingSet:
    photos: list[GalleryPhoto]
    classes: list[str]  # sorted artefact ids kept, the classifier's output order
    excluded: dict[str, int] = field(default_factory=dict)  # artefact -> photo count, below --min-images

    @property
    def counts(self) -> list[int]:
        c = Counter(p.artefact_id for p in self.photos)
        return [c[a] for a in self.classes]

    def collection_of(self) -> dict[str, str]:
        return {p.artefact_id: p.collection for p in self.photos}

    def sha256(self) -> str:
        """Identity of the training data: every (artefact, photo bytes) pair, order-free."""
        h = hashlib.sha256()
        for key in sorted(f"{p.artefact_id}:{_file_sha(p.file())}" for p in self.photos):
            h.update(key.encode())
        return h.hexdigest()


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_gallery(source: str | Path) -> list[GalleryPhoto]:
    """Photos of a ``gallery.csv`` (or a folder holding one) or of a folder per artefact."""
    src = Path(source)
    if src.is_dir() and (src / "gallery.csv").is_file():
        src = src / "gallery.csv"
    if src.is_file():
        return _read_csv(src)
    if src.is_dir():
        return _read_folders(src)
    raise ModelError(f"gallery {src} is neither a gallery.csv nor a folder of artefact folders")


def _read_csv(path: Path) -> list[GalleryPhoto]:
    photos: list[GalleryPhoto] = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"image", "artefact_id"} - set(reader.fieldnames or [])
        if missing:
            raise ModelError(
                f"{path} lacks column(s) {', '.join(sorted(missing))} (needs image,artefact_id[,collection])"
            )
        for line, row in enumerate(reader, start=2):
            image, artefact = (row.get("image") or "").strip(), (row.get("artefact_id") or "").strip()
            if not image or not artefact:
                raise ModelError(f"{path}:{line}: empty image or artefact_id")
            p = path.parent / image
            if not p.is_file():
                raise ModelError(f"{path}:{line}: photo {p} does not exist")
            photos.append(GalleryPhoto(artefact, p, collection=(row.get("collection") or "").strip()))
    return photos


def _read_folders(root: Path) -> list[GalleryPhoto]:
    photos = [
        GalleryPhoto(d.name, f, collection=root.name)
        for d in sorted(root.iterdir())
        if d.is_dir()
        for f in sorted(d.iterdir())
        if f.suffix.lower() in IMAGE_SUFFIXES
    ]
    return photos


def select_artefacts(photos: Sequence[GalleryPhoto], min_images: int) -> TrainingSet:
    """Keep artefacts with at least ``min_images`` photos; list the others, refuse < 2 artefacts."""
    if min_images < 1:
        raise ModelError(f"--min-images must be at least 1, got {min_images}")
    counts = Counter(p.artefact_id for p in photos)
    kept = sorted(a for a, n in counts.items() if n >= min_images)
    excluded = {a: n for a, n in sorted(counts.items()) if n < min_images}
    if len(kept) < 2:
        detail = f"; excluded with fewer than {min_images} photos: {_list(excluded)}" if excluded else ""
        raise ModelError(
            f"the classifier needs at least 2 artefacts with >= {min_images} photos, "
            f"the gallery has {len(kept)}{detail}"
        )
    keep = set(kept)
    return TrainingSet([p for p in photos if p.artefact_id in keep], kept, excluded)


def _list(excluded: dict[str, int]) -> str:
    return ", ".join(f"{a} ({n})" for a, n in excluded.items())


def describe_exclusions(ts: TrainingSet, min_images: int) -> str:
    if not ts.excluded:
        return f"all {len(ts.classes)} artefacts have >= {min_images} photos"
    return f"{len(ts.excluded)} artefact(s) excluded, fewer than {min_images} photos: {_list(ts.excluded)}"


@dataclass
class Split:
    train: list[GalleryPhoto]
    val: list[GalleryPhoto]  # held-out photos; validation uses augmented views of them


def split_per_artefact(photos: Sequence[GalleryPhoto], val_fraction: float = 0.25, seed: int = 0) -> Split:
    """Hold out photos per artefact, never all of one: EVERY artefact stays in training.

    An artefact with n >= 2 photos gives max(1, round(n * val_fraction)) photos, at most n - 1, to
    validation; an artefact with a single photo keeps it in training only (its validation then
    rests on augmented views in the other artefacts' held-out photos, the caller is told nothing
    is lost). With 4 photos per artefact that is 3 train / 1 validation, i.e. one held-out view
    per object, seen through listing-style augmentation.
    """
    by_artefact: dict[str, list[GalleryPhoto]] = defaultdict(list)
    for p in photos:
        by_artefact[p.artefact_id].append(p)
    rng = random.Random(seed)
    train: list[GalleryPhoto] = []
    val: list[GalleryPhoto] = []
    for artefact in sorted(by_artefact):
        items = sorted(by_artefact[artefact], key=lambda p: str(p.path))
        rng.shuffle(items)
        n_val = 0 if len(items) < 2 else min(len(items) - 1, max(1, round(len(items) * val_fraction)))
        val.extend(items[:n_val])
        train.extend(items[n_val:])
    return Split(train, val)


def negative_photos(folder: str | Path, per_object: int = 8, seed: int = 0) -> list[Path]:
    """Photos of objects NOT in the gallery (e.g. coil100-train), a few per object folder.

    Used as outlier exposure in training and to calibrate the rejection score: never the
    benchmark's listings.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ModelError(f"negatives folder {root} does not exist")
    rng = random.Random(seed)
    out: list[Path] = []
    for d in sorted(x for x in root.iterdir() if x.is_dir()):
        files = sorted(f for f in d.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        rng.shuffle(files)
        out.extend(files[:per_object])
    if not out:
        raise ModelError(f"negatives folder {root} holds no object folders with photos")
    return out
