"""Benchmark metrics over listing photos, exactly as ``BENCHMARK.md`` defines them.

Each listing photo has a truth (its artefact, or None when unprotected) and a ranking of
artefacts with the best artefact's score. A listing is *flagged* at threshold t when its best
score >= t; a flagged listing is *correct* only if it is protected AND its top artefact is the
right one (a protected photo matched to the wrong artefact is a false alert too).

- top-k: share of protected listing photos whose artefact is among the first k.
- precision(t) = correct / flagged; recall(t) = correct / all protected listing photos.
  The curve is taken at every distinct best score (tied scores enter together).
- AP = sum over thresholds of (recall step) x precision (no interpolation).
- R@P95: the largest recall at a threshold whose precision is >= 0.95 (0 when none is).
- FP@R90: at the strictest threshold whose recall reaches 0.90 -- the loosest an operator
  needs to go to catch 90% -- the share of *unprotected* listing photos flagged;
  nan when recall 0.90 is never reached (or there is no unprotected photo).
- FP@t, R@t (and P@t): at a threshold the system set without the listings; two of them, the
  ``review`` level (the queue, ``threshold``) and the ``notify`` level (e-mail and Slack).

The same metrics are taken per listing (:func:`listing_level`): a listing's photos are combined
into one ranking, each artefact scored by its best photo, the way an analyst sees a listing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

TOP_K = (1, 5, 10)


@dataclass(frozen=True)
class ListingResult:
    truth: str | None  # the listing photo's artefact; None: not a protected object
    ranked: tuple[str, ...]  # artefacts, best first
    best_score: float  # score of ranked[0] (-inf when nothing was ranked)

    @property
    def protected(self) -> bool:
        return self.truth is not None

    @property
    def correct(self) -> bool:
        return self.truth is not None and bool(self.ranked) and self.ranked[0] == self.truth


@dataclass(frozen=True)
class PRCurve:
    thresholds: np.ndarray  # descending distinct best scores
    precision: np.ndarray
    recall: np.ndarray
    fp_rate: np.ndarray  # share of unprotected listing photos flagged


@dataclass(frozen=True)
class Metrics:
    n_protected: int
    n_unprotected: int
    top1: float
    top5: float
    top10: float
    ap: float
    r_at_p95: float
    fp_at_r90: float
    # the operating point of a given (calibrated) threshold, when one is given
    threshold: float | None = None
    precision_at_threshold: float | None = None
    recall_at_threshold: float | None = None
    fp_rate_at_threshold: float | None = None
    # the stricter notify level (e-mail and Slack), when one is given
    notify_threshold: float | None = None
    precision_at_notify: float | None = None
    recall_at_notify: float | None = None
    fp_rate_at_notify: float | None = None

    def to_dict(self) -> dict[str, Any]:
        # JSON has no nan: write null
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


def top_k(results: Sequence[ListingResult], k: int) -> float:
    protected = [r for r in results if r.protected]
    if not protected:
        return math.nan
    return sum(r.truth in r.ranked[:k] for r in protected) / len(protected)


def pr_curve(results: Sequence[ListingResult]) -> PRCurve:
    n_pos = sum(r.protected for r in results)
    n_neg = len(results) - n_pos
    ranked = [r for r in results if r.ranked and np.isfinite(r.best_score)]  # never-ranked: never flagged
    if not ranked:
        empty = np.zeros(0)
        return PRCurve(empty, empty, empty, empty)
    scores = np.array([r.best_score for r in ranked], dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    scores = scores[order]
    correct = np.array([ranked[i].correct for i in order], dtype=np.float64)
    unprotected = np.array([not ranked[i].protected for i in order], dtype=np.float64)
    # the last position of each run of equal scores: tied listings are flagged together
    last = np.r_[np.nonzero(np.diff(scores))[0], len(scores) - 1]
    flagged = last + 1.0
    tp = np.cumsum(correct)[last]
    fp_neg = np.cumsum(unprotected)[last]
    return PRCurve(
        thresholds=scores[last],
        precision=tp / flagged,
        recall=tp / n_pos if n_pos else np.full(len(last), np.nan),
        fp_rate=fp_neg / n_neg if n_neg else np.full(len(last), np.nan),
    )


def average_precision(curve: PRCurve) -> float:
    if curve.recall.size == 0:
        return 0.0
    if np.isnan(curve.recall).any():  # no protected listing photo: recall undefined
        return math.nan
    steps = np.diff(np.r_[0.0, curve.recall])
    return float(np.sum(steps * curve.precision))


def recall_at_precision(curve: PRCurve, min_precision: float = 0.95) -> float:
    ok = curve.precision >= min_precision
    return float(curve.recall[ok].max()) if ok.any() else 0.0


def fp_at_recall(curve: PRCurve, min_recall: float = 0.90) -> float:
    reached = np.nonzero(curve.recall >= min_recall - 1e-12)[0]
    if reached.size == 0:
        return math.nan
    return float(curve.fp_rate[reached[0]])  # thresholds descend: the first is the strictest


def operating_point(results: Sequence[ListingResult], threshold: float) -> tuple[float, float, float]:
    """(precision, recall, share of unprotected flagged) when alerting at ``threshold``."""
    flagged = [r for r in results if r.ranked and r.best_score >= threshold]
    n_pos = sum(r.protected for r in results)
    n_neg = len(results) - n_pos
    correct = sum(r.correct for r in flagged)
    precision = correct / len(flagged) if flagged else math.nan
    recall = correct / n_pos if n_pos else math.nan
    fp_rate = sum(not r.protected for r in flagged) / n_neg if n_neg else math.nan
    return precision, recall, fp_rate


def compute_metrics(
    results: Sequence[ListingResult], threshold: float | None = None, notify_threshold: float | None = None
) -> Metrics:
    curve = pr_curve(results)
    n_pos = sum(r.protected for r in results)
    extra: dict[str, Any] = {}
    if threshold is not None:
        p, r, f = operating_point(results, threshold)
        extra = {
            "threshold": float(threshold),
            "precision_at_threshold": p,
            "recall_at_threshold": r,
            "fp_rate_at_threshold": f,
        }
    if notify_threshold is not None:
        p, r, f = operating_point(results, notify_threshold)
        extra |= {
            "notify_threshold": float(notify_threshold),
            "precision_at_notify": p,
            "recall_at_notify": r,
            "fp_rate_at_notify": f,
        }
    return Metrics(
        n_protected=n_pos,
        n_unprotected=len(results) - n_pos,
        top1=top_k(results, 1),
        top5=top_k(results, 5),
        top10=top_k(results, 10),
        ap=average_precision(curve) if n_pos else math.nan,
        r_at_p95=recall_at_precision(curve) if n_pos else math.nan,
        fp_at_r90=fp_at_recall(curve) if n_pos else math.nan,
        **extra,
    )


def grouped_metrics(
    results: Sequence[ListingResult],
    group_of: dict[str, str],
    threshold: float | None = None,
    notify_threshold: float | None = None,
) -> dict[str, Metrics]:
    """Metrics per group of artefacts (e.g. collection): a group's protected listing photos plus
    ALL unprotected ones, since false alarms come from the same pool whatever the group."""
    unprotected = [r for r in results if not r.protected]
    groups = sorted({group_of[r.truth] for r in results if r.truth is not None and r.truth in group_of})
    out = {}
    for g in groups:
        members = [r for r in results if r.truth is not None and group_of.get(r.truth) == g]
        out[g] = compute_metrics([*members, *unprotected], threshold, notify_threshold)
    return out


GALLERY_SIZE_BUCKETS = ((1, 2, "1-2"), (3, 4, "3-4"), (5, None, "5+"))


def gallery_size_bucket(n_photos: int) -> str:
    """The gallery-size row an artefact with ``n_photos`` gallery photos falls in: 1-2, 3-4 or 5+."""
    for low, high, label in GALLERY_SIZE_BUCKETS:
        if n_photos >= low and (high is None or n_photos <= high):
            return label
    return "0"


def listing_level(
    photos: Sequence[tuple[str, str | None, Sequence[tuple[str, float]]]],
) -> tuple[list[str], list[ListingResult]]:
    """One result per listing from its photos' (listing id, truth, [(artefact, score), ...] best first).

    A listing scores each artefact by its best photo (a seller's close-up of the base matches where
    the front view does not; photos of other things in the lot do not pull it down) and ranks the
    artefacts by that. Its truth is its photos' artefact (empty on every photo: unprotected; a listing
    whose photos name two artefacts counts the first named). Returns the listing ids in first-seen
    order and their results.
    """
    order: list[str] = []
    truth: dict[str, str | None] = {}
    best: dict[str, dict[str, float]] = {}
    for listing_id, photo_truth, ranked in photos:
        if listing_id not in best:
            order.append(listing_id)
            best[listing_id] = {}
            truth[listing_id] = None
        if truth[listing_id] is None and photo_truth:
            truth[listing_id] = photo_truth
        scores = best[listing_id]
        for artefact, score in ranked:
            if score > scores.get(artefact, -math.inf):
                scores[artefact] = score
    results = []
    for lid in order:
        ranked_items = sorted(best[lid].items(), key=lambda kv: (-kv[1], kv[0]))
        results.append(
            ListingResult(
                truth[lid],
                tuple(a for a, _ in ranked_items),
                ranked_items[0][1] if ranked_items else -math.inf,
            )
        )
    return order, results
