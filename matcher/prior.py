"""A descriptor's score prior: how its scores fall on objects it never saw, stored as numbers on its card.

Measured on whole objects held out of the descriptor's training (:mod:`models.validation` builds
their mini gallery and re-staged listing photos of *other* views, as a benchmark does): for every
listing photo, its similarity to each held-out artefact (the best over that artefact's gallery
photos, embedded with the index's gallery views). Two distributions are kept as quantiles:

- ``impostor_one``: a listing photo against one artefact that is not its own;
- ``genuine``: a listing photo against its own artefact (other views than the listing shows).

:mod:`matcher.threshold` scales them to a gallery's size and sets the alert levels with them. Only
quantiles are stored, never photos or vectors, and the prior names the weights and views it holds for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from lootwatch.matcher.index import embed_images
from lootwatch.matcher.views import GalleryViews, embed_views

from lootwatch.core.errors import BadInputError

QUANTILES = 101  # stored points per distribution (probabilities 0, 0.01, ..., 1)


def per_artefact_similarity(
    queries: np.ndarray, gallery: np.ndarray, gallery_labels: Sequence[str]
) -> tuple[np.ndarray, list[str]]:
    """(Q, A) best cosine of each query to each artefact's photos, and the artefacts' order."""
    labels = np.asarray(gallery_labels, dtype=object).astype(str)
    artefacts = sorted(set(labels.tolist()))
    sims = np.asarray(queries, np.float32) @ np.asarray(gallery, np.float32).T
    return np.stack([sims[:, labels == a].max(axis=1) for a in artefacts], axis=1), artefacts


def prior_from_similarities(
    per_artefact: np.ndarray, artefacts: Sequence[str], query_labels: Sequence[str]
) -> dict[str, Any]:
    """The two quantile lists from a (Q, A) similarity table (module doc)."""
    own = np.array([[a == q for a in artefacts] for q in query_labels], dtype=bool)
    if not own.any(axis=1).all():
        raise BadInputError("every held-out listing photo needs its artefact in the held-out gallery")
    genuine = per_artefact[own]
    impostor = per_artefact[~own]
    if impostor.size == 0:
        raise BadInputError("a score prior needs two held-out artefacts or more")
    probs = np.linspace(0.0, 1.0, QUANTILES)
    return {
        "impostor_one": [round(float(v), 5) for v in np.quantile(impostor, probs)],
        "genuine": [round(float(v), 5) for v in np.quantile(genuine, probs)],
        "n_queries": int(len(query_labels)),
        "n_artefacts": int(len(artefacts)),
    }


def measure_score_prior(
    descriptor: Any,
    photos: dict[str, list[Path]],
    *,
    kinds: dict[str, str] | None = None,
    views: GalleryViews | None = None,
    seed: int = 0,
    batch_size: int = 32,
) -> dict[str, Any]:
    """The prior of ``descriptor`` on held-out objects ``photos`` (object -> photo paths)."""
    from lootwatch.models.validation import build_validation_set

    views = views or GalleryViews()
    vset = build_validation_set(photos, seed=seed, kinds=kinds, max_queries=8)
    gallery = embed_views(descriptor, vset.gallery, views, batch_size=batch_size)
    queries = embed_images(descriptor, vset.queries, batch_size=batch_size)
    table, artefacts = per_artefact_similarity(queries, gallery, vset.gallery_labels)
    prior = prior_from_similarities(table, artefacts, vset.query_labels)
    prior.update(
        weights_sha256=descriptor.card.weights_sha256,
        views=views.to_dict(),
        measured_on=f"{len(photos)} objects held out of training (re-staged other views as listings)",
        seed=seed,
    )
    return prior


def write_score_prior(
    checkpoint: Path,
    sources: Sequence[Path],
    *,
    views: GalleryViews | None = None,
    batch_size: int = 32,
) -> dict[str, Any]:
    """Measure the prior of a trained checkpoint on the objects its card says were held out of its
    training (``extra["validation"]["held_out_objects"]``, read from ``sources`` as training read them)
    and record it on the card as ``extra["score_prior"]``; returns it."""
    from lootwatch.models.descriptor import load_checkpoint
    from lootwatch.models.train_descriptor import update_card
    from lootwatch.models.training_data import read_training_sets

    descriptor = load_checkpoint(Path(checkpoint))
    validation = descriptor.card.extra.get("validation") or {}
    held_out = list(validation.get("held_out_objects") or [])
    if len(held_out) < 2:
        raise BadInputError(f"{checkpoint}: its card names no held-out objects to measure a score prior on")
    data = read_training_sets(list(sources))
    missing = [o for o in held_out if o not in data.objects]
    if missing:
        raise BadInputError(f"held-out objects not in the training sources: {', '.join(missing[:5])}")
    descriptor.eval()
    prior = measure_score_prior(
        descriptor,
        {o: data.objects[o] for o in held_out},
        kinds=data.kinds,
        views=views,
        seed=int(validation.get("seed") or 0) + 1,  # other views and re-stagings than epoch selection saw
        batch_size=batch_size,
    )
    update_card(Path(checkpoint), score_prior=prior)
    return prior
