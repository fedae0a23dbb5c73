"""Descriptor vectors of real photos for ``bench_faiss.py``: every shared photo, then re-staged copies.

Run: ``nice -n 5 .venv/bin/python bench/faiss_real_vectors.py [--variants 28] [--data ../shared/data]``
(resumable: chunks already under ``data/faiss-vectors/<descriptor version>/`` are kept).

Sources (all of ``/work/shared/data`` that holds object photos): antiquities-train (one object per
folder), coil100-train (one object per folder), and the gallery and listing photos of
bench-antiquities-dev and bench-coil-dev (object = artefact_id; an unprotected listing photo is its
own object). Variant 0 is the photo itself; variant v >= 1 is ``models.augment.listing_style`` with a
seed fixed by (photo, v): a real photo re-staged as a seller would (backdrop, tilt, light, noise,
watermark, crop, JPEG), then embedded -- not a perturbation in vector space. Chunks are written
variant by variant, so a run stopped early still leaves whole variants of every photo.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
CHUNK = 256


@dataclass(frozen=True)
class Photo:
    path: Path
    object_id: str
    source: str  # training data ("antiquities-train", "coil100-train") or a bench's gallery/listings


def shared_photos(root: Path) -> list[Photo]:
    out: list[Photo] = []
    for source in ("antiquities-train", "coil100-train"):
        base = root / source
        for d in sorted(p for p in base.iterdir() if p.is_dir()):
            out.extend(
                Photo(f, f"{source}:{d.name}", source)
                for f in sorted(d.iterdir())
                if f.suffix.lower() in IMAGE_SUFFIXES
            )
    for bench in ("bench-antiquities-dev", "bench-coil-dev"):
        with (root / bench / "gallery.csv").open(encoding="utf-8") as fh:
            out.extend(
                Photo(root / bench / r["image"], f"{bench}:{r['artefact_id']}", f"{bench}/gallery")
                for r in csv.DictReader(fh)
            )
        with (root / bench / "listings.csv").open(encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                obj = r["artefact_id"] or f"unprotected-{r['listing_id']}"
                out.append(Photo(root / bench / r["image"], f"{bench}:{obj}", f"{bench}/listings"))
    return out


def _seed(path: Path, variant: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{path.name}|{path.parent.name}|{variant}".encode()).digest()[:8], "big")


def chunk_dir(out: Path, version: str) -> Path:
    return out / version


def load_vectors(out: Path, version: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Photo]]:
    """(vectors, photo index, variant) of every chunk written so far, and the photo list."""
    d = chunk_dir(out, version)
    photos = [
        Photo(Path(p), o, s)
        for p, o, s in (line.split("\t") for line in (d / "photos.tsv").read_text(encoding="utf-8").splitlines())
    ]
    vecs, idx, var = [], [], []
    for f in sorted(d.glob("v*_c*.npz")):
        z = np.load(f)
        vecs.append(z["vectors"])
        idx.append(z["photo"])
        var.append(z["variant"])
    if not vecs:
        raise SystemExit(f"no vectors under {d}: run bench/faiss_real_vectors.py first")
    return np.concatenate(vecs), np.concatenate(idx), np.concatenate(var), photos


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("data/faiss-vectors"))
    ap.add_argument("--variants", type=int, default=28, help="re-staged copies per photo beside the photo itself")
    ap.add_argument("--descriptor", default="default")
    args = ap.parse_args()

    import torch  # deferred: heavy
    from lootwatch.models.augment import listing_style
    from lootwatch.models.descriptor import load_descriptor
    from PIL import Image

    torch.set_num_threads(1)
    model = load_descriptor(args.descriptor)
    version = f"{model.card.name}-{model.card.weights_sha256[:12]}"
    d = chunk_dir(args.out, version)
    d.mkdir(parents=True, exist_ok=True)
    photos = shared_photos(args.data)
    (d / "photos.tsv").write_text("".join(f"{p.path}\t{p.object_id}\t{p.source}\n" for p in photos), encoding="utf-8")
    print(f"{len(photos)} photos, {args.variants + 1} variants each -> {d}", flush=True)
    began, done = time.perf_counter(), 0
    for v in range(args.variants + 1):
        for c, start in enumerate(range(0, len(photos), CHUNK)):
            f = d / f"v{v:03d}_c{c:03d}.npz"
            if f.exists():
                continue
            part = photos[start : start + CHUNK]
            images = []
            for p in part:
                with Image.open(p.path) as im:
                    img = im.convert("RGB")
                images.append(img if v == 0 else listing_style(img, random.Random(_seed(p.path, v))))
            vectors = model.embed(images, batch_size=32).astype(np.float16)
            tmp = f.with_suffix(".tmp.npz")
            np.savez(tmp, vectors=vectors, photo=np.arange(start, start + len(part)), variant=np.full(len(part), v))
            tmp.rename(f)
            done += len(part)
            rate = done / (time.perf_counter() - began)
            print(f"variant {v} chunk {c}: {rate:.1f} photos/s", flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main()
