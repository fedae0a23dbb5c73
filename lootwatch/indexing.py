"""Build the gallery index from the artefacts in Postgres and publish it as a new version."""

from __future__ import annotations

import logging
from collections.abc import Callable

from tqdm import tqdm

from lootwatch.core.db import Database
from lootwatch.core.errors import BadInputError
from lootwatch.core.gallery_photos import GalleryPhoto, PhotoLimits, read_gallery_photos
from lootwatch.core.settings import Settings
from lootwatch.core.storage import BlobStore
from lootwatch.matcher.views import GalleryViews

log = logging.getLogger(__name__)


def gallery_photos(db: Database, store: BlobStore, settings: Settings) -> list[GalleryPhoto]:
    """The live gallery decoded for embedding; BadInputError when it is empty."""
    photos = read_gallery_photos(db, store, decode=PhotoLimits(settings.max_photo_bytes, settings.max_photo_pixels))
    if not photos:
        raise BadInputError("the gallery is empty: run `lootwatch gallery import PATH` first")
    return photos


def build_and_publish(
    db: Database,
    settings: Settings,
    *,
    descriptor_spec: str | None = None,
    kind: str = "auto",
    progress: bool = True,
    fine_tune_steps: int | None = None,
    say: Callable[[str], None] = log.info,
):  # noqa: ANN201 - matcher.index.GalleryIndex
    """Embed every gallery photo, calibrate the alert threshold on the gallery, publish; return the index.

    With ``fine_tune_steps`` (default: the setting) the descriptor is first fine-tuned on the gallery
    and its threshold cross-fitted (:mod:`matcher.tuning`); the tuned copy is published with the index.
    A gallery too small for that (fewer than 3 artefacts) is indexed with the descriptor as it is.
    """
    from lootwatch.matcher.index import GalleryIndex  # heavy import: faiss
    from lootwatch.matcher.store import publish  # heavy import: faiss
    from lootwatch.matcher.tuning import MIN_ARTEFACTS, tune_on_gallery  # heavy import: faiss
    from lootwatch.models.descriptor import load_descriptor  # heavy import: torch
    from lootwatch.models.finetune import gallery_hash  # heavy import: torch

    spec = descriptor_spec or settings.descriptor
    views = GalleryViews(settings.gallery_scales, settings.gallery_mirror)
    steps = settings.fine_tune_steps if fine_tune_steps is None else fine_tune_steps
    photos = gallery_photos(db, BlobStore(settings.store_dir), settings)
    n_artefacts = len({p.artefact_id for p in photos})
    bar = (lambda it: tqdm(list(it), desc="embedding gallery", unit="batch")) if progress else None
    if steps and n_artefacts < MIN_ARTEFACTS:
        say(f"not fine-tuning: the gallery has {n_artefacts} artefact(s), the calibration needs {MIN_ARTEFACTS}")
        steps = 0
    if not steps:
        descriptor = load_descriptor(spec)
        index = GalleryIndex.build(
            descriptor, photos, kind=kind, contrast=settings.score_contrast, views=views, progress=bar
        )
        publish(index, settings.index_dir)
        return index
    tuned = tune_on_gallery(
        lambda: load_descriptor(spec, "cpu"),  # training runs on the CPU (models.train_descriptor)
        [p.pixels() for p in photos],
        [p.artefact_id for p in photos],
        steps=steps,
        folds=settings.fine_tune_folds,
        contrast=settings.score_contrast,
        views=views,
        data_sha256=gallery_hash(_photo_hashes(db)),
        progress=(lambda r: tqdm(r, desc="fine-tune", unit="step", leave=False)) if progress else None,
        say=say,
    )
    index = GalleryIndex.build(
        tuned.descriptor,
        photos,
        kind=kind,
        contrast=settings.score_contrast,
        views=views,
        progress=bar,
        calibrate=False,
    )
    index.apply_calibration(tuned.calibration, fine_tuned=dict(tuned.descriptor.card.extra["fine_tuned"]))
    publish(index, settings.index_dir, descriptor=tuned.descriptor)
    return index


def describe_levels(calibration: dict) -> list[str]:  # noqa: ANN001 - an index's calibration record
    """One line per alert level: its threshold and the estimate behind it (matcher.threshold)."""
    levels = calibration.get("levels") or {}
    lines = []
    for name, use in (("notify", "e-mail and Slack"), ("review", "the review queue")):
        lv = levels.get(name)
        if not lv or lv.get("threshold") is None:
            continue
        parts = [f"{name} threshold {lv['threshold']:.4f} ({use}):"]
        parts.append(f"expected false alerts {_pct(lv.get('expected_fp'))} of unprotected listing photos")
        detail = [f"gallery {_pct(lv.get('fp_gallery'))}"]
        if lv.get("fp_prior") is not None:
            detail.append(f"held-out prior {_pct(lv.get('fp_prior'))}")
        parts.append(f"({', '.join(detail)}; target {_pct(lv.get('target_fp'))}),")
        recall = lv.get("expected_recall")
        source = "held-out prior" if lv.get("fp_prior") is not None else "re-staged gallery views, optimistic"
        parts.append(f"expected recall {_pct(recall)} ({source})")
        lines.append(" ".join(parts))
    return lines


def _pct(value: float | None) -> str:
    return "?" if value is None else f"{100 * value:.1f}%"


def _photo_hashes(db: Database) -> dict[str, list[str]]:
    hashes: dict[str, list[str]] = {}
    for row in db.fetchall(
        """SELECT p.artefact_id, p.sha256 FROM artefact_photos p
           JOIN artefacts a ON a.id = p.artefact_id WHERE a.removed_at IS NULL"""
    ):
        hashes.setdefault(row["artefact_id"], []).append(row["sha256"])
    return hashes
