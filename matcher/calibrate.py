"""The alert threshold, calibrated on the gallery alone.

A deployment has its gallery and nothing else (no labelled listing photos), so the threshold is
read off scores among gallery photos, each gallery photo playing a listing photo in turn.

Clean gallery photos share a studio backdrop and make poor stand-ins for listing photos (on
bench-coil-dev their leave-one-out genuine scores sit far above those of real listing photos),
so the queries are **re-staged** copies of gallery photos (``models.augment.listing_style``: new
backdrop, scale, tilt, light, noise, watermark, crop, JPEG), compared with the gallery *without*
the photo they came from:

- **genuine** score of a query: its best score to the *other* photos of its own artefact
  (artefacts with a single photo give none);
- **impostor** score: its best score to any photo of another artefact -- what an object that is
  not in the gallery scores, i.e. an unprotected listing photo.

Both on the index's score scale: with ``contrast`` c (see :mod:`matcher.index`) the genuine score
is ``genuine - c x impostor`` and the impostor score ``impostor - c x (best similarity of a second
other artefact)``: the query's own artefact left out, as if it were not in the gallery.

Rule: ``threshold = quantile(impostor, 0.95)`` -- about 1 unprotected object in 20 would raise
an alert -- **bounded by** ``quantile(genuine, 0.5)``, so that at least half of the other views
of a protected object still alert when the two distributions overlap (a missed looted object
costs more than reviewing a false one). Without images (``calibrate_threshold`` on vectors
only) the clean gallery photos are the queries, same rule. With no impostor score (one
artefact) the threshold is ``quantile(genuine, 0.05)``; with neither it is None.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image

from lootwatch.core.errors import BadInputError

IMPOSTOR_QUANTILE = 0.95
GENUINE_CAP_QUANTILE = 0.5
MAX_QUERIES = 5000  # leave-one-out queries sampled from big galleries (cost is queries x photos)
RESTAGED_PER_PHOTO = 2
MAX_RESTAGED = 1000  # re-staged queries must be embedded: bound the cost on big galleries


@dataclass(frozen=True)
class ScoreStats:
    n: int
    mean: float | None
    min: float | None
    q05: float | None
    q50: float | None
    q95: float | None
    q99: float | None
    max: float | None

    @classmethod
    def of(cls, scores: np.ndarray) -> ScoreStats:
        if scores.size == 0:
            return cls(0, None, None, None, None, None, None, None)
        q = np.quantile(scores, [0.05, 0.5, 0.95, 0.99])
        return cls(
            int(scores.size),
            float(scores.mean()),
            float(scores.min()),
            float(q[0]),
            float(q[1]),
            float(q[2]),
            float(q[3]),
            float(scores.max()),
        )


@dataclass(frozen=True)
class Calibration:
    threshold: float | None
    rule: str
    genuine: ScoreStats
    impostor: ScoreStats
    n_photos: int
    n_artefacts: int
    n_queries: int
    queries: str  # "restaged gallery photos" or "gallery photos"
    contrast: float = 0.0  # the score scale calibrated on (matcher.index)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def restage_queries(
    images: Sequence[Image.Image],
    *,
    per_photo: int = RESTAGED_PER_PHOTO,
    max_queries: int = MAX_RESTAGED,
    seed: int = 0,
) -> tuple[list[Image.Image], np.ndarray]:
    """Listing-style copies of gallery photos and, for each, the index of the photo it came from.

    Seeded: the same gallery always gives the same queries (and so the same threshold).
    """
    from lootwatch.models.augment import listing_style

    sources = [i for i in range(len(images)) for _ in range(per_photo)]
    if len(sources) > max_queries:
        sources = sorted(random.Random(seed).sample(sources, max_queries))
    queries = [listing_style(images[i], random.Random(seed * 1_000_003 + k)) for k, i in enumerate(sources)]
    return queries, np.asarray(sources, dtype=np.int64)


def query_scores(
    queries: np.ndarray,
    sources: np.ndarray,
    vectors: np.ndarray,
    artefact_ids: Sequence[str],
    contrast: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(genuine, impostor) best scores of each query, its source photo left out (module doc)."""
    q = np.ascontiguousarray(np.asarray(queries, dtype=np.float32))
    x = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if x.ndim != 2 or len(x) != len(artefact_ids) or q.ndim != 2 or len(q) != len(sources):
        raise BadInputError(
            f"need one vector per artefact id ({x.shape}, {len(artefact_ids)} ids) "
            f"and one source per query ({q.shape}, {len(sources)} sources)"
        )
    _, labels = np.unique(np.asarray(artefact_ids, dtype=object).astype(str), return_inverse=True)
    genuine, impostor = [], []
    chunk = max(1, (1 << 24) // max(len(x), 1))  # ~64 MB of scores at a time
    for start in range(0, len(q), chunk):
        src = sources[start : start + chunk]
        sims = q[start : start + chunk] @ x.T
        sims[np.arange(len(src)), src] = -np.inf  # never compare a photo with (a copy of) itself
        same = labels[src][:, None] == labels[None, :]
        gen = np.where(same, sims, -np.inf).max(axis=1)
        others = np.where(same, -np.inf, sims)
        best_other = others.argmax(axis=1)
        imp = others[np.arange(len(src)), best_other]
        if contrast:
            # the second other artefact: mask every photo of the best one
            runner_up = np.where(labels[None, :] == labels[best_other][:, None], -np.inf, others).max(axis=1)
            gen = gen - contrast * np.where(np.isfinite(imp), imp, 0.0)
            imp = imp - contrast * np.where(np.isfinite(runner_up), runner_up, 0.0)
        genuine.append(gen[np.isfinite(gen)])
        impostor.append(imp[np.isfinite(imp)])
    return _cat(genuine), _cat(impostor)


def leave_one_out_scores(
    vectors: np.ndarray,
    artefact_ids: Sequence[str],
    *,
    max_queries: int = MAX_QUERIES,
    seed: int = 0,
    contrast: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, int]:
    """(genuine, impostor, queries used) with the clean gallery photos themselves as queries."""
    x = np.asarray(vectors, dtype=np.float32)
    sources = np.arange(len(x))
    if len(x) > max_queries:  # deterministic sample: the same gallery always gets the same threshold
        sources = np.sort(np.random.default_rng(seed).choice(len(x), max_queries, replace=False))
    genuine, impostor = query_scores(x[sources], sources, x, artefact_ids, contrast)
    return genuine, impostor, len(sources)


def calibrate_threshold(
    vectors: np.ndarray,
    artefact_ids: Sequence[str],
    *,
    queries: np.ndarray | None = None,
    sources: np.ndarray | None = None,
    impostor_quantile: float = IMPOSTOR_QUANTILE,
    genuine_cap_quantile: float = GENUINE_CAP_QUANTILE,
    max_queries: int = MAX_QUERIES,
    contrast: float = 0.0,
) -> Calibration:
    """The threshold from gallery ``vectors``; ``queries``/``sources``: re-staged copies (see module doc)."""
    if queries is None or sources is None:
        kind = "gallery photos"
        genuine, impostor, n_queries = leave_one_out_scores(
            vectors, artefact_ids, max_queries=max_queries, contrast=contrast
        )
    else:
        kind = "restaged gallery photos"
        genuine, impostor = query_scores(queries, np.asarray(sources, dtype=np.int64), vectors, artefact_ids, contrast)
        n_queries = len(queries)
    threshold, rule = threshold_from_scores(genuine, impostor, impostor_quantile, genuine_cap_quantile)
    return Calibration(
        threshold=threshold,
        rule=rule,
        genuine=ScoreStats.of(genuine),
        impostor=ScoreStats.of(impostor),
        n_photos=len(artefact_ids),
        n_artefacts=len(set(artefact_ids)),
        n_queries=n_queries,
        queries=kind,
        contrast=contrast,
    )


def threshold_from_scores(
    genuine: np.ndarray,
    impostor: np.ndarray,
    impostor_quantile: float = IMPOSTOR_QUANTILE,
    genuine_cap_quantile: float = GENUINE_CAP_QUANTILE,
) -> tuple[float | None, str]:
    """The module's rule on any score scale (cosine, fused probability): (threshold, rule applied)."""
    if impostor.size:
        threshold = float(np.quantile(impostor, impostor_quantile))
        rule = f"quantile(impostor, {impostor_quantile})"
        if genuine.size:
            cap = float(np.quantile(genuine, genuine_cap_quantile))
            if cap < threshold:
                return cap, f"quantile(genuine, {genuine_cap_quantile}), below impostor q{impostor_quantile}"
        return threshold, rule
    if genuine.size:
        return float(np.quantile(genuine, 0.05)), "quantile(genuine, 0.05) (no other artefact)"
    return None, "none: a single photo gives no score to calibrate on"


def calibrate_with_descriptor(
    embed: Callable[[list[Image.Image]], np.ndarray],
    images: Sequence[Image.Image],
    vectors: np.ndarray,
    artefact_ids: Sequence[str],
    *,
    per_photo: int = RESTAGED_PER_PHOTO,
    max_queries: int = MAX_RESTAGED,
    contrast: float = 0.0,
) -> Calibration:
    """Re-stage gallery photos, embed them with ``embed`` and calibrate on them."""
    queries, sources = restage_queries(images, per_photo=per_photo, max_queries=max_queries)
    return calibrate_threshold(vectors, artefact_ids, queries=embed(queries), sources=sources, contrast=contrast)


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)
