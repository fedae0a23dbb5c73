"""Read a matching benchmark folder, laid out as ``BENCHMARK.md`` says::

    BENCH_DIR/gallery.csv    image,artefact_id,collection   one row per protected photo
    BENCH_DIR/listings.csv   image,listing_id,artefact_id   empty artefact_id: not a protected object

Every problem is reported, all at once, in one :class:`BenchmarkError` (missing files, missing
columns, empty ids, listing artefacts absent from the gallery, a listing photo that is also a
gallery photo, missing image files); nothing is silently skipped.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from lootwatch.matcher.errors import BenchmarkError
from PIL import Image, ImageOps, UnidentifiedImageError

GALLERY_CSV = "gallery.csv"
LISTINGS_CSV = "listings.csv"
GALLERY_COLUMNS = ("image", "artefact_id", "collection")
LISTING_COLUMNS = ("image", "listing_id", "artefact_id")
MAX_LISTED = 10  # problems named one by one in an error; the rest are counted


@dataclass(frozen=True)
class GalleryRow:
    image: Path  # absolute
    artefact_id: str
    collection: str


@dataclass(frozen=True)
class ListingRow:
    image: Path  # absolute
    listing_id: str
    artefact_id: str | None  # None: not a protected object


@dataclass(frozen=True)
class Benchmark:
    root: Path
    gallery: list[GalleryRow]
    listings: list[ListingRow]

    @property
    def artefacts(self) -> list[str]:
        return sorted({r.artefact_id for r in self.gallery})

    @property
    def collection_of(self) -> dict[str, str]:
        return {r.artefact_id: r.collection for r in self.gallery}

    @property
    def photos_per_artefact(self) -> dict[str, int]:
        return dict(Counter(r.artefact_id for r in self.gallery))

    def summary(self) -> str:
        n = len(self.listings)
        protected = sum(r.artefact_id is not None for r in self.listings)
        return (
            f"{len(self.artefacts)} artefacts, {len(self.gallery)} gallery photos; "
            f"{n} listing photos ({protected} protected, {n - protected} unprotected)"
        )


def read_benchmark(root: Path) -> Benchmark:
    root = Path(root)
    if not root.is_dir():
        raise BenchmarkError(f"benchmark folder {root} does not exist")
    missing = [name for name in (GALLERY_CSV, LISTINGS_CSV) if not (root / name).is_file()]
    if missing:
        raise BenchmarkError(f"benchmark {root} lacks {', '.join(missing)} (layout: see BENCHMARK.md)")
    problems: list[str] = []
    gallery_rows = _read_csv(root / GALLERY_CSV, GALLERY_COLUMNS)
    listing_rows = _read_csv(root / LISTINGS_CSV, LISTING_COLUMNS)

    gallery = []
    for line, row in gallery_rows:
        where = f"{GALLERY_CSV}:{line}"
        image, artefact = row["image"].strip(), row["artefact_id"].strip()
        if not image:
            problems.append(f"{where}: empty image")
        if not artefact:
            problems.append(f"{where}: empty artefact_id (every gallery photo belongs to an artefact)")
        if image and artefact:
            gallery.append(GalleryRow((root / image).resolve(), artefact, row["collection"].strip()))

    known = {r.artefact_id for r in gallery}
    listings = []
    for line, row in listing_rows:
        where = f"{LISTINGS_CSV}:{line}"
        image, listing, artefact = row["image"].strip(), row["listing_id"].strip(), row["artefact_id"].strip()
        if not image:
            problems.append(f"{where}: empty image")
        if not listing:
            problems.append(f"{where}: empty listing_id")
        if artefact and artefact not in known:
            problems.append(f"{where}: artefact_id {artefact!r} has no photo in {GALLERY_CSV}")
        if image and listing:
            listings.append(ListingRow((root / image).resolve(), listing, artefact or None))

    if not gallery_rows:
        problems.append(f"{GALLERY_CSV} has no rows")
    if not listing_rows:
        problems.append(f"{LISTINGS_CSV} has no rows")
    for name, rows in ((GALLERY_CSV, gallery), (LISTINGS_CSV, listings)):
        repeated = [str(p.relative_to(root)) for p, n in Counter(r.image for r in rows).items() if n > 1]
        if repeated:
            problems.append(f"{name} lists the same image more than once: {_few(repeated)}")
    shared = sorted({r.image for r in gallery} & {r.image for r in listings})
    if shared:
        problems.append(f"listing photos that are also gallery photos: {_few([str(p) for p in shared])}")
    absent = [str(p) for p in [*(r.image for r in gallery), *(r.image for r in listings)] if not p.is_file()]
    if absent:
        problems.append(f"{len(absent)} image file(s) missing: {_few(absent)}")
    if problems:
        raise BenchmarkError(f"benchmark {root} is not usable:\n  " + "\n  ".join(_few_lines(problems)))
    return Benchmark(root.resolve(), gallery, listings)


def open_image(path: Path) -> Image.Image:
    """An RGB image (EXIF orientation applied); an unreadable file is a BenchmarkError naming it."""
    try:
        with Image.open(path) as img:
            img.load()
            return (ImageOps.exif_transpose(img) or img).convert("RGB")
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        raise BenchmarkError(f"cannot read image {path}: {exc}") from exc


def _read_csv(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in reader.fieldnames or []]
            lacking = [c for c in columns if c not in header]
            if lacking:
                raise BenchmarkError(
                    f"{path} lacks column(s) {', '.join(lacking)}; expected header {','.join(columns)}, "
                    f"found {','.join(header) or '(empty file)'}"
                )
            reader.fieldnames = header
            # line numbers as an editor shows them (header is line 1)
            return [(i + 2, {c: (row.get(c) or "") for c in columns}) for i, row in enumerate(reader)]
    except UnicodeDecodeError as exc:
        raise BenchmarkError(f"{path} is not UTF-8 text: {exc}") from exc


def _few(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" ... and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


def _few_lines(lines: list[str]) -> list[str]:
    if len(lines) <= 2 * MAX_LISTED:
        return lines
    return [*lines[: 2 * MAX_LISTED], f"... and {len(lines) - 2 * MAX_LISTED} more problems"]
