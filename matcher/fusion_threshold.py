"""The fused alert threshold of a classifier + the live descriptor, calibrated on the gallery alone.

Fused alert threshold (``calibrate_fusion``), on the gallery alone, by the rule the index uses for
the descriptor (:mod:`matcher.threshold`): re-staged copies of the gallery photos are the queries;
each is scored against every artefact exactly as the worker scores a listing photo (descriptor
cosine with the query's own source photo left out -> calibrated ``q``; classifier ``p``; fused with
``matcher.fusion.fuse``, logit pool w = 0.5). genuine = the fused score of the query's own artefact
(artefacts with another photo), impostor = its best fused score among the other artefacts, with
the classifier's softmax renormalised over those other artefacts: the query's object plays an
UNPROTECTED one, which a closed-set classifier forces into some protected class (the descriptor
side is its cosine to the other artefacts' photos, as in :mod:`matcher.threshold`). Without the
renormalisation a classifier trained on these very photos would give the other artefacts ~0 and
the threshold would say nothing about unknown objects. ``threshold = quantile(impostor, 0.95)``,
capped at ``quantile(genuine, 0.5)``. Caveat: the classifier was trained on these photos
(re-staged differently), so its genuine scores are optimistic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np
from lootwatch.matcher.fused_scores import classifier_columns, fused_matrix
from lootwatch.matcher.fusion import DEFAULT_RULE, DEFAULT_WEIGHT, calibrate_descriptor
from lootwatch.matcher.index import embed_images
from lootwatch.matcher.store import live_descriptor_spec, live_views
from lootwatch.matcher.threshold import ScoreStats, restage_queries, threshold_from_scores
from lootwatch.matcher.views import embed_views

from lootwatch.core.gallery_photos import GalleryPhoto
from lootwatch.core.images import vet_image
from lootwatch.core.settings import Settings

if TYPE_CHECKING:
    from lootwatch.models.classifier import Ensemble, LoadedClassifier


def calibrate_fusion(
    settings: Settings,
    clf: LoadedClassifier | Ensemble,
    photos: Sequence[GalleryPhoto],
    *,
    rule: str = DEFAULT_RULE,
    weight: float = DEFAULT_WEIGHT,
) -> dict[str, Any]:
    """The fused alert threshold for ``clf`` + the worker's descriptor, from gallery photos only."""
    from lootwatch.models.descriptor import load_descriptor  # heavy import: torch

    # the live index's descriptor (its own when the index was built with a gallery fine-tune)
    descriptor = load_descriptor(live_descriptor_spec(settings.index_dir, settings.descriptor))
    images = [
        vet_image(
            p.file().read_bytes(),
            max_bytes=settings.max_photo_bytes,
            max_pixels=settings.max_photo_pixels,
            with_phash=False,
        ).image
        for p in photos
    ]
    ids = [p.artefact_id for p in photos]
    vectors = embed_views(descriptor, images, live_views(settings.index_dir))  # as the live index holds them
    cal = calibrate_descriptor(vectors, ids)  # what the worker fits on the index built from these photos
    queries, sources = restage_queries(images)

    classes = sorted(set(ids))
    label = np.array([classes.index(a) for a in ids])
    sims = embed_images(descriptor, queries) @ vectors.T
    sims[np.arange(len(sources)), sources] = -np.inf  # never the photo a query was made from
    cosine = np.full((len(queries), len(classes)), -np.inf, dtype=np.float32)
    for j in range(len(classes)):
        cosine[:, j] = sims[:, label == j].max(axis=1)
    has_other = np.isfinite(cosine[np.arange(len(sources)), label[sources]])
    q = cal(np.where(np.isfinite(cosine), cosine, -1.0))  # -1: no photo, as the worker scores it
    p, known = classifier_columns(clf, clf.predict_proba(queries), classes)
    fused = fused_matrix(p, q, known, rule, weight)

    rows, own = np.arange(len(sources)), label[sources]
    genuine = fused[rows, own][has_other]
    # impostor: the query's object as if it were NOT protected -- the classifier's softmax over the
    # other artefacts only (renormalised), i.e. an unknown object forced into a protected class
    unknown_p = p.copy()
    unknown_p[rows, own] = 0.0
    unknown_p /= np.maximum(unknown_p.sum(axis=1, keepdims=True), 1e-12)
    others = fused_matrix(unknown_p, q, known, rule, weight)
    others[rows, own] = -np.inf
    impostor = others.max(axis=1) if len(classes) > 1 else np.zeros(0, np.float32)
    threshold, how = threshold_from_scores(genuine, impostor)
    return {
        "descriptor": str(descriptor.card.version),
        "classifier": clf.version,
        "rule": rule,
        "weight": weight,
        "threshold": threshold,
        "threshold_rule": how,
        "queries": "restaged gallery photos",
        "n_queries": len(queries),
        "genuine": asdict(ScoreStats.of(genuine)),
        "impostor": asdict(ScoreStats.of(impostor)),
        "descriptor_logistic": cal.to_dict(),
    }
