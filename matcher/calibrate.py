"""The alert threshold, calibrated on the gallery alone.

A deployment has its gallery and nothing else (no labelled listing photos), so the threshold is
read off leave-one-out scores among gallery photos: each photo plays a listing photo once.

- **genuine** score of a photo: its best score to the *other* photos of its own artefact
  (photos of artefacts with a single photo have none);
- **impostor** score: its best score to any photo of another artefact.

Rule: ``threshold = quantile(impostor, 0.99)`` -- about 1 gallery photo in 100 would raise a
false alert against another artefact -- **bounded by** ``quantile(genuine, 0.5)``, so that at
least half of the known views of an object still alert when the two distributions overlap
(a missed looted object costs more than a review of a false one). With no impostor scores
(one artefact) the threshold is ``quantile(genuine, 0.05)``; with neither it is None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lootwatch.errors import BadInputError

IMPOSTOR_QUANTILE = 0.99
GENUINE_CAP_QUANTILE = 0.5
MAX_QUERIES = 5000  # leave-one-out queries sampled from big galleries (cost is queries x photos)


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def leave_one_out_scores(
    vectors: np.ndarray, artefact_ids: Sequence[str], *, max_queries: int = MAX_QUERIES, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, int]:
    """(genuine scores, impostor scores, queries used); see the module docstring."""
    x = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if x.ndim != 2 or len(x) != len(artefact_ids):
        raise BadInputError(f"need one vector per artefact id: vectors {x.shape}, {len(artefact_ids)} ids")
    n = len(x)
    _, labels = np.unique(np.asarray(artefact_ids, dtype=object).astype(str), return_inverse=True)
    queries = np.arange(n)
    if n > max_queries:  # deterministic sample: the same gallery always gets the same threshold
        queries = np.sort(np.random.default_rng(seed).choice(n, max_queries, replace=False))
    genuine, impostor = [], []
    chunk = max(1, (1 << 24) // max(n, 1))  # ~64 MB of scores at a time
    for start in range(0, len(queries), chunk):
        rows = queries[start : start + chunk]
        sims = x[rows] @ x.T
        sims[np.arange(len(rows)), rows] = -np.inf  # leave the photo itself out
        same = labels[rows][:, None] == labels[None, :]
        gen = np.where(same, sims, -np.inf).max(axis=1)
        imp = np.where(same, -np.inf, sims).max(axis=1)
        genuine.append(gen[np.isfinite(gen)])
        impostor.append(imp[np.isfinite(imp)])
    cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0, np.float32)  # noqa: E731
    return cat(genuine), cat(impostor), len(queries)


def calibrate_threshold(
    vectors: np.ndarray,
    artefact_ids: Sequence[str],
    *,
    impostor_quantile: float = IMPOSTOR_QUANTILE,
    genuine_cap_quantile: float = GENUINE_CAP_QUANTILE,
    max_queries: int = MAX_QUERIES,
) -> Calibration:
    genuine, impostor, n_queries = leave_one_out_scores(vectors, artefact_ids, max_queries=max_queries)
    threshold: float | None
    if impostor.size:
        threshold = float(np.quantile(impostor, impostor_quantile))
        rule = f"quantile(impostor, {impostor_quantile})"
        if genuine.size:
            cap = float(np.quantile(genuine, genuine_cap_quantile))
            if cap < threshold:
                threshold, rule = cap, f"quantile(genuine, {genuine_cap_quantile}) (caps impostor q{impostor_quantile})"
    elif genuine.size:
        threshold, rule = float(np.quantile(genuine, 0.05)), "quantile(genuine, 0.05) (no other artefact)"
    else:
        threshold, rule = None, "none: a single photo gives no score to calibrate on"
    return Calibration(
        threshold=threshold,
        rule=rule,
        genuine=ScoreStats.of(genuine),
        impostor=ScoreStats.of(impostor),
        n_photos=len(artefact_ids),
        n_artefacts=len(set(artefact_ids)),
        n_queries=n_queries,
    )
