"""A small deterministic descriptor and tiny benchmarks built from real coil100-train photos."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from lootwatch.models.card import ModelCard
from PIL import Image

COIL = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "coil100-train"


def histogram_card(name: str = "hist-test", weights: str = "ab" * 32) -> ModelCard:
    return ModelCard(
        name=name,
        kind="descriptor",
        arch="colour-histogram",
        backbone="none",
        backbone_weights="none",
        dim=64,
        input_size=(64, 64),
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        weights_sha256=weights,
    )


class HistogramDescriptor:
    """4x4x4 RGB colour histogram of the non-black pixels, square-rooted and L2-normalised."""

    def __init__(self, card: ModelCard | None = None) -> None:
        self.card = card or histogram_card()
        self.calls = 0

    def embed(self, images: list[Image.Image]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(images), 64), dtype=np.float32)
        for i, img in enumerate(images):
            a = np.asarray(img.convert("RGB").resize((64, 64)), dtype=np.int64)
            keep = a.sum(axis=2) > 60  # ignore the black studio backdrop
            q = (a[keep] // 64) if keep.any() else (a.reshape(-1, 3) // 64)
            codes = q[:, 0] * 16 + q[:, 1] * 4 + q[:, 2]
            h = np.bincount(codes, minlength=64).astype(np.float32)
            h = np.sqrt(h)
            out[i] = h / (np.linalg.norm(h) or 1.0)
        return out


@pytest.fixture
def hist_descriptor() -> HistogramDescriptor:
    return HistogramDescriptor()


@pytest.fixture(scope="session")
def coil_dir() -> Path:
    if not COIL.is_dir():
        pytest.skip("../shared/data/coil100-train is not beside the project")
    return COIL


def make_bench(
    root: Path,
    coil: Path,
    *,
    protected: tuple[str, ...] = ("obj002", "obj003", "obj004"),
    unprotected: tuple[str, ...] = ("obj005",),
    gallery_angles: tuple[int, ...] = (0, 180),
    listing_angles: tuple[int, ...] = (20, 200),
) -> Path:
    """A benchmark in BENCHMARK.md's layout: gallery PNGs, listing JPEGs (other views)."""
    (root / "listings").mkdir(parents=True)
    gallery_rows, listing_rows = [], []
    for n, obj in enumerate(protected):
        aid = f"A{n + 1:04d}"
        (root / "gallery" / aid).mkdir(parents=True)
        for angle in gallery_angles:
            rel = f"gallery/{aid}/{angle:03d}.png"
            Image.open(coil / obj / f"{angle:03d}.png").convert("RGB").save(root / rel)
            gallery_rows.append([rel, aid, "coil" if n % 2 == 0 else "other"])
    lid = 0
    for obj, aid in [
        *((o, f"A{i + 1:04d}") for i, o in enumerate(protected)),
        *((o, "") for o in unprotected),
    ]:
        for angle in listing_angles:
            lid += 1
            rel = f"listings/L{lid:05d}.jpg"
            Image.open(coil / obj / f"{angle:03d}.png").convert("RGB").save(root / rel, quality=85)
            listing_rows.append([rel, f"L{lid:05d}", aid])
    write_csv(root / "gallery.csv", ["image", "artefact_id", "collection"], gallery_rows)
    write_csv(root / "listings.csv", ["image", "listing_id", "artefact_id"], listing_rows)
    return root


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


@pytest.fixture
def tiny_bench(tmp_path: Path, coil_dir: Path) -> Path:
    return make_bench(tmp_path / "bench", coil_dir)


@pytest.fixture
def card_factory():  # noqa: ANN201 - returns histogram_card
    return histogram_card
