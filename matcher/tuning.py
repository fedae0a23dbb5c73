"""Fine-tune the descriptor on the gallery for an index build, and calibrate its threshold honestly.

A descriptor trained on other objects separates a new gallery's look-alikes poorly; a few triplet
steps on re-staged copies of the gallery photos (:mod:`models.finetune`) teach it the protected
artefacts' own patterns. The catch is the threshold. :mod:`matcher.threshold` plays an unprotected
object by a gallery artefact left out of the comparison, but the fine-tuned model was trained to
push exactly those artefacts apart, so their scores fall far below what a truly unseen object
scores (measured on the demo gallery: calibrated threshold 0.207, 12 false alerts).

So the threshold is **cross-fitted**: the artefacts are split into ``folds`` groups; for each group
a copy of the descriptor is fine-tuned, the same way, on the *other* groups only, and

- **impostor** scores: re-staged photos of the held-out group against the fine-tuned gallery --
  objects the model never trained on, as an unprotected listing is (score: best artefact's
  cosine less ``contrast`` x the second's, the index's scale);
- **genuine** scores: re-staged photos of the trained groups against the other photos of their
  own artefact (the source photo left out), as in :mod:`matcher.threshold`.

The pooled scores set the two alert levels (:func:`matcher.threshold.alert_levels`: the lowest
threshold whose estimated false-alert rate is within the level's target, the estimate being the larger
of these held-out impostors' and the starting descriptor's held-out score prior; recall does not cap
it). The thresholds are applied to the descriptor fine-tuned on every artefact. Cost: ``folds + 1``
fine-tunings.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from lootwatch.matcher.index import embed_images
from lootwatch.matcher.threshold import (
    Calibration,
    calibration_from_scores,
    query_scores,
    restage_queries,
    usable_prior,
)
from lootwatch.matcher.views import GalleryViews, embed_views
from PIL import Image

from lootwatch.core.errors import BadInputError

log = logging.getLogger(__name__)

MIN_ARTEFACTS = 3  # two to train each fold on, one held out as the unseen object


@dataclass
class TunedDescriptor:
    descriptor: Any  # models.descriptor.Descriptor, fine-tuned on every artefact
    calibration: Calibration
    folds: int
    steps: int


def fold_of(artefact_ids: Iterable[str], folds: int, seed: int = 0) -> dict[str, int]:
    """Artefact -> fold, balanced and seeded (the same gallery always splits the same way)."""
    unique = sorted(set(artefact_ids))
    order = np.random.default_rng(seed).permutation(len(unique))
    return {unique[i]: k % folds for k, i in enumerate(order)}


def open_set_scores(
    queries: np.ndarray, vectors: np.ndarray, artefact_ids: Sequence[str], contrast: float
) -> np.ndarray:
    """Each query's best artefact score on the index's scale (best - contrast x second best)."""
    labels = np.asarray(artefact_ids, dtype=object).astype(str)
    sims = np.asarray(queries, np.float32) @ np.asarray(vectors, np.float32).T
    per_artefact = np.stack([sims[:, labels == a].max(axis=1) for a in np.unique(labels)], axis=1)
    if per_artefact.shape[1] < 2 or not contrast:
        return per_artefact.max(axis=1)
    top2 = np.sort(per_artefact, axis=1)[:, -2:]
    return top2[:, 1] - contrast * top2[:, 0]


def tune_on_gallery(
    load: Callable[[], Any],
    images: Sequence[Image.Image],
    artefact_ids: Sequence[str],
    *,
    steps: int,
    folds: int,
    contrast: float,
    views: GalleryViews | None = None,
    data_sha256: str = "",
    batch_size: int = 32,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
    say: Callable[[str], None] = log.info,
) -> TunedDescriptor:
    """``load()`` gives a fresh copy of the starting descriptor; see the module doc. ``views``: how the
    index embeds gallery photos (:mod:`matcher.views`), so the threshold is fitted on the same vectors."""
    from lootwatch.models.finetune import fine_tune

    ids = [str(a) for a in artefact_ids]
    n_artefacts = len(set(ids))
    if n_artefacts < MIN_ARTEFACTS:
        raise BadInputError(
            f"fine-tuning on the gallery needs at least {MIN_ARTEFACTS} artefacts (got {n_artefacts}): "
            "its threshold is calibrated on artefacts held out of training"
        )
    folds = max(2, min(folds, n_artefacts))
    while n_artefacts - math.ceil(n_artefacts / folds) < 2:  # every run trains on two artefacts or more
        folds += 1
    assignment = fold_of(ids, folds)
    queries, sources = restage_queries(images)
    labels = np.asarray(ids, dtype=object)

    def tuned_on(keep: set[str], what: str) -> Any:
        by_artefact: dict[str, list[Image.Image]] = {}
        for image, aid in zip(images, ids, strict=True):
            if aid in keep:
                by_artefact.setdefault(aid, []).append(image)
        say(f"fine-tuning the descriptor on {what} ({len(by_artefact)} artefacts, {steps} steps)")
        start = load()
        if not priors:  # the starting descriptor's card, read before fine-tuning changes its weights
            priors.append(usable_prior(start, (views or GalleryViews()).to_dict()))
        return fine_tune(start, by_artefact, steps, data_sha256=data_sha256, progress=progress)

    priors: list[dict[str, Any] | None] = []

    genuine, impostor = [], []
    for k in range(folds):
        train = {a for a, f in assignment.items() if f != k}
        model = tuned_on(train, f"calibration fold {k + 1}/{folds}")
        vectors = embed_views(model, images, views or GalleryViews(), batch_size=batch_size)
        qv = embed_images(model, queries, batch_size=batch_size)
        inside = np.isin(labels, list(train))
        kept = np.flatnonzero(inside)
        renumber = np.full(len(ids), -1, np.int64)
        renumber[kept] = np.arange(len(kept))
        trained_q = inside[sources]
        g, _ = query_scores(qv[trained_q], renumber[sources[trained_q]], vectors[kept], list(labels[kept]), contrast)
        genuine.append(g)
        impostor.append(open_set_scores(qv[~trained_q], vectors[kept], list(labels[kept]), contrast))
    all_genuine, all_impostor = np.concatenate(genuine), np.concatenate(impostor)
    # the starting descriptor's held-out prior: a few dozen gallery steps move scores far less than
    # the gap between re-staged gallery views and unseen objects that the prior corrects for
    prior = priors[0] if priors else None
    calibration: Calibration = calibration_from_scores(
        all_genuine,
        all_impostor,
        n_photos=len(ids),
        n_artefacts=n_artefacts,
        n_queries=len(queries) * folds,
        queries=f"restaged gallery photos, cross-fitted over {folds} folds of fine-tuning",
        contrast=contrast,
        prior=prior,
    )
    final = tuned_on(set(ids), "the whole gallery")
    return TunedDescriptor(final, calibration, folds, steps)
