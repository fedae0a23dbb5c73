"""Evaluate descriptors on a benchmark folder: pure files, no database, no queue.

The gallery index is built from the benchmark's gallery photos (and its alert threshold
calibrated on them, as a deployment would); every listing photo is then scored against it.
Nothing is learned from listing photos or ``listings.csv``: they are only read to score.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from lootwatch.matcher.benchmark import Benchmark, open_image
from lootwatch.matcher.index import DEFAULT_CONTRAST, EmbedsImages, GalleryIndex, embed_images
from lootwatch.matcher.metrics import (
    ListingResult,
    Metrics,
    PRCurve,
    compute_metrics,
    gallery_size_bucket,
    grouped_metrics,
    listing_level,
    pr_curve,
)
from lootwatch.matcher.threshold import Calibration
from lootwatch.matcher.views import GalleryViews, embed_views
from lootwatch.models.card import card_dict, card_version
from PIL import Image

from lootwatch.core.errors import BadInputError

Progress = Callable[[Iterable[Any], str], Iterable[Any]]
K = 10  # artefacts kept per listing photo (top-10 is the widest metric)
# trained the same way as the evaluated descriptor for `--compare` (BENCHMARK.md's ablations)
BASELINE_ARCHS = ("gem", "rmac", "spoc", "mac", "netvlad", "pan-noatt", "pan-single")
UNTRAINED_BASELINE = "imagenet-lite0-gem"
# the reference rows of BENCHMARK.md: untrained ImageNet features, always in `eval --compare`
UNTRAINED_BASELINES = ("imagenet-lite0-gem", "imagenet-lite2-gem")


@dataclass
class BenchImages:
    """The benchmark's photos, decoded once and shared by every descriptor evaluated."""

    bench: Benchmark
    gallery: list[Image.Image]
    listings: list[Image.Image]

    @classmethod
    def load(cls, bench: Benchmark, progress: Progress | None = None) -> BenchImages:
        def read(paths: Sequence[Path], what: str) -> list[Image.Image]:
            it: Iterable[Path] = progress(paths, what) if progress else paths
            return [open_image(p) for p in it]

        return cls(
            bench,
            read([r.image for r in bench.gallery], "read gallery"),
            read([r.image for r in bench.listings], "read listings"),
        )


@dataclass
class RunResult:
    name: str
    card: dict[str, Any]
    metrics: Metrics
    by_collection: dict[str, Metrics]
    by_photos: dict[str, Metrics]  # key: the artefact's gallery-photo count bucket (1-2, 3-4, 5+)
    calibration: dict[str, Any]
    curve: PRCurve
    listings: list[dict[str, Any]]
    seconds: dict[str, float] = field(default_factory=dict)
    gallery_views: dict[str, Any] = field(default_factory=lambda: GalleryViews().to_dict())
    per_listing: Metrics | None = None  # listings (photos combined, matcher.metrics.listing_level)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "card_version": card_version(self.card),
            "card": self.card,
            "metrics": self.metrics.to_dict(),
            "by_collection": {k: m.to_dict() for k, m in self.by_collection.items()},
            "by_photos_per_artefact": {k: m.to_dict() for k, m in self.by_photos.items()},
            "per_listing": self.per_listing.to_dict() if self.per_listing is not None else None,
            "calibration": self.calibration,
            "gallery_views": self.gallery_views,
            "seconds": self.seconds,
            "listings": self.listings,
        }


def evaluate_descriptor(
    images: BenchImages,
    descriptor: EmbedsImages,
    *,
    name: str | None = None,
    batch_size: int = 32,
    progress: Progress | None = None,
    contrast: float = DEFAULT_CONTRAST,
    views: GalleryViews | None = None,
    calibration: Calibration | None = None,
) -> RunResult:
    """``calibration``: a threshold already calibrated for ``descriptor`` (a gallery fine-tune's cross-fitted
    one, :mod:`matcher.tuning`); without it the threshold is calibrated here as ``index build`` does.
    ``views``: how gallery photos are embedded (:mod:`matcher.views`; listing photos: once, as workers do)."""
    bench = images.bench
    card = card_dict(descriptor.card)
    label = name or str(card.get("name"))

    def bar(what: str) -> Callable[[Iterable[Any]], Iterable[Any]] | None:
        return (lambda it: progress(it, f"{what} ({label})")) if progress else None

    t0 = time.perf_counter()
    views = views or GalleryViews()
    gallery_vectors = embed_views(
        descriptor, images.gallery, views, batch_size=batch_size, progress=bar("embed gallery")
    )
    t1 = time.perf_counter()
    # photo ids are positions in gallery.csv (1-based), as artefact_photos ids would be
    artefact_ids = [r.artefact_id for r in bench.gallery]
    index = GalleryIndex.from_vectors(
        card,
        np.arange(1, len(bench.gallery) + 1),
        artefact_ids,
        gallery_vectors,
        calibrate=False,
        contrast=contrast,
        views=views,
    )
    # the threshold comes from the gallery alone, exactly as `lootwatch index build` sets it
    if calibration is not None:
        index.apply_calibration(calibration)
    else:
        index.calibrate(
            gallery_vectors,
            artefact_ids,
            descriptor=descriptor,
            images=images.gallery,
            batch_size=batch_size,
            progress=bar("calibrate on re-staged gallery"),
        )
    t2 = time.perf_counter()
    listing_vectors = embed_images(descriptor, images.listings, batch_size=batch_size, progress=bar("embed listings"))
    t3 = time.perf_counter()
    hits = index.search(listing_vectors, K)
    t4 = time.perf_counter()

    results = [
        ListingResult(
            row.artefact_id,
            tuple(h.artefact_id for h in row_hits),
            row_hits[0].score if row_hits else -np.inf,
        )
        for row, row_hits in zip(bench.listings, hits, strict=True)
    ]
    threshold, notify = index.threshold, index.notify_threshold
    photos = bench.photos_per_artefact
    _, per_listing = listing_level(
        [
            (row.listing_id, row.artefact_id, [(h.artefact_id, h.score) for h in row_hits])
            for row, row_hits in zip(bench.listings, hits, strict=True)
        ]
    )
    buckets = {a: gallery_size_bucket(n) for a, n in photos.items()}
    return RunResult(
        name=label,
        card=card,
        metrics=compute_metrics(results, threshold, notify),
        by_collection=grouped_metrics(results, bench.collection_of, threshold, notify),
        by_photos=grouped_metrics(results, buckets, threshold, notify),
        per_listing=compute_metrics(per_listing, threshold, notify),
        calibration=index.calibration,
        gallery_views=views.to_dict(),
        curve=pr_curve(results),
        listings=[
            {
                "listing_id": row.listing_id,
                "image": str(row.image.relative_to(bench.root)),
                "artefact_id": row.artefact_id,
                "top": [[h.artefact_id, round(h.score, 6)] for h in row_hits],
            }
            for row, row_hits in zip(bench.listings, hits, strict=True)
        ],
        seconds={
            "embed_gallery": round(t1 - t0, 3),
            "index_and_calibrate": round(t2 - t1, 3),
            "embed_listings": round(t3 - t2, 3),
            "search": round(t4 - t3, 3),
            "ms_per_listing_photo": round(1000 * (t3 - t2 + t4 - t3) / max(1, len(bench.listings)), 2),
        },
    )


def baseline_checkpoint(checkpoints_dir: Path, arch: str, backbone: str, train_images: Path, epochs: int) -> Path:
    """Where a baseline trained on ``train_images`` is cached (the name says how it was trained)."""
    key = hashlib.sha256(str(Path(train_images).resolve()).encode()).hexdigest()[:8]
    return Path(checkpoints_dir) / f"baseline-{arch}-{backbone}-e{epochs}-{key}.pt"


def training_options(card: dict[str, Any]) -> dict[str, Any]:
    """The training settings recorded in a trained descriptor's card, minus what a baseline changes
    and minus how the recording machine ran it: bf16 is chosen for the CPU at hand (a card trained
    where bf16 is native would otherwise make this CPU emulate it, 11x slower)."""
    recorded = dict((card.get("extra") or {}).get("training") or {})
    for key in ("arch", "backbone", "epochs", "name", "threads", "steps_per_epoch", "bf16"):
        recorded.pop(key, None)
    return recorded


def train_baselines(
    train_images: Path,
    checkpoints_dir: Path,
    *,
    backbone: str,
    epochs: int,
    archs: Sequence[str] = BASELINE_ARCHS,
    retrain: bool = False,
    options: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Path]:
    """Each baseline architecture trained the same way on ``train_images`` (cached checkpoints).

    ``options``: further ``TrainConfig`` fields, e.g. those of the evaluated descriptor's own
    training (:func:`training_options`), so baselines differ from it by their head only.
    """
    from lootwatch.models.train_descriptor import train_descriptor  # heavy import: torch

    if not Path(train_images).is_dir():
        raise BadInputError(f"training images folder {train_images} does not exist")
    out = {}
    for arch in archs:
        path = baseline_checkpoint(checkpoints_dir, arch, backbone, train_images, epochs)
        if path.exists() and not retrain:
            log(f"baseline {arch}: reusing {path}")
        else:
            log(f"baseline {arch}: training {epochs} epoch(s) on {train_images} -> {path}")
            train_descriptor(
                train_images,
                path,
                arch=arch,
                backbone=backbone,
                epochs=epochs,
                overwrite=True,
                **(options or {}),
            )
        out[arch] = path
    return out
