"""Model selection without the benchmark: a small retrieval benchmark built from held-out objects.

Whole objects (not views) are held out of training, so the validation numbers measure what the
benchmark measures -- objects the model has never seen. From each held-out object's views (a
turntable series, sorted by name = angle) ``gallery_views`` evenly spaced views are the gallery and
every view at least ``min_gap_degrees`` from all of them, re-staged with ``listing_style``, is a
listing photo. Each held-out object takes a turn as the unprotected one (its gallery views dropped,
its listing photos kept as unprotected queries); AP, R@P95 and FP@R90 are averaged over these folds.
A handful of held-out objects alone make a gallery too easy to tell epochs apart, so the gallery
views of the training objects join the gallery as distractor artefacts (a deployment's gallery is
known and may be trained on; they are never queried): a held-out listing photo must beat them too.

The metrics follow ``BENCHMARK.md`` (and ``matcher.metrics``, which ``models`` must not import):
listings ranked by their best artefact score (best over that artefact's gallery photos), a listing
is correct when protected and its top artefact is right, tied scores enter together.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from lootwatch.models.augment import listing_style
from lootwatch.models.errors import ModelError
from PIL import Image

METRIC_KEYS = ("top1", "ap", "r_at_p95", "fp_at_r90")


@dataclass
class ValidationSet:
    objects: list[str]
    gallery: list[Image.Image]
    gallery_labels: list[str]
    queries: list[Image.Image]
    query_labels: list[str]


def split_objects(objects: Sequence[str], n_val: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """(training objects, held-out objects): ``n_val`` whole objects drawn with a fixed seed."""
    ordered = sorted(objects)
    if n_val < 2 or len(ordered) - n_val < 2:
        raise ModelError(
            f"a validation split needs at least 2 held-out and 2 training objects "
            f"({len(ordered)} objects, {n_val} to hold out)"
        )
    held = sorted(random.Random(seed).sample(ordered, n_val))
    return [o for o in ordered if o not in held], held


def split_stratified(categories: dict[str, str], n_val: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """Like :func:`split_objects`, with each category held out in proportion to its size (largest
    remainders; a category of one object may fall entirely to training)."""
    ordered = sorted(categories)
    if n_val < 2 or len(ordered) - n_val < 2:
        raise ModelError(
            f"a validation split needs at least 2 held-out and 2 training objects "
            f"({len(ordered)} objects, {n_val} to hold out)"
        )
    by_cat: dict[str, list[str]] = {}
    for obj in ordered:
        by_cat.setdefault(categories[obj], []).append(obj)
    share = n_val / len(ordered)
    quota = {c: math.floor(len(objs) * share) for c, objs in by_cat.items()}
    rest = sorted(by_cat, key=lambda c: (-(len(by_cat[c]) * share - quota[c]), c))
    for c in rest[: n_val - sum(quota.values())]:
        quota[c] += 1
    rng = random.Random(seed)
    held: list[str] = []
    for c in sorted(by_cat):
        held += rng.sample(by_cat[c], quota[c])
    held = sorted(held)
    return [o for o in ordered if o not in held], held


def auto_val_objects(n_objects: int) -> int:
    """Default split size: a fifth of the objects (4 of 20), none below 10 objects."""
    return max(2, n_objects // 5) if n_objects >= 10 else 0


def gallery_and_query_views(
    n: int, gallery_views: int = 4, min_gap_degrees: float = 20.0
) -> tuple[list[int], list[int]]:
    """Indices of gallery views (evenly spaced) and query views (>= the gap from every gallery view),
    for ``n`` views assumed evenly spread over 360 degrees."""
    k = min(gallery_views, max(1, n // 2))
    gallery = sorted({round(i * n / k) % n for i in range(k)})
    gap = math.ceil(n * min_gap_degrees / 360.0)
    queries = [i for i in range(n) if all(min(abs(i - g), n - abs(i - g)) >= gap for g in gallery)]
    if not queries:  # too few views for the gap: any view not in the gallery
        queries = [i for i in range(n) if i not in gallery]
    return gallery, queries


def catalogue_views(
    n: int, rng: random.Random, gallery_views: int = 4, query_views: int = 2
) -> tuple[list[int], list[int]]:
    """Distinct catalogue views (front, side, base, detail): a random up-to-``gallery_views`` for the
    gallery, up to ``query_views`` of the others as listing photos (the benchmark's layout: a listing
    shows views no gallery photo shows)."""
    order = list(range(n))
    rng.shuffle(order)
    k = min(gallery_views, n - 1)
    return sorted(order[:k]), sorted(order[k : k + query_views])


def build_validation_set(
    photos: dict[str, list[Path]],
    *,
    distractors: dict[str, list[Path]] | None = None,
    seed: int = 0,
    gallery_views: int = 4,
    min_gap_degrees: float = 20.0,
    kinds: dict[str, str] | None = None,
    max_queries: int | None = None,
) -> ValidationSet:
    """Gallery and re-staged listing photos of the held-out objects; the same photos every call.

    ``kinds`` says which objects are ``catalogue`` objects (:func:`catalogue_views`); the others are
    turntable series (:func:`gallery_and_query_views`). ``max_queries`` caps a series object's
    listing photos (evenly drawn), so that 72-view series do not outweigh catalogue objects.
    """
    kinds = kinds or {}
    vset = ValidationSet(sorted(photos), [], [], [], [])
    for n_obj, obj in enumerate(vset.objects):
        views = sorted(photos[obj])
        if len(views) < 2:
            raise ModelError(f"validation object {obj} has fewer than two photos")
        rng = random.Random(seed * 1_000_003 + n_obj)
        if kinds.get(obj) == "catalogue":
            g_idx, q_idx = catalogue_views(len(views), rng, gallery_views)
        else:
            g_idx, q_idx = gallery_and_query_views(len(views), gallery_views, min_gap_degrees)
            if max_queries and len(q_idx) > max_queries:
                q_idx = [q_idx[round(i * len(q_idx) / max_queries)] for i in range(max_queries)]
        for i in g_idx:
            vset.gallery.append(_load(views[i]))
            vset.gallery_labels.append(obj)
        for i in q_idx:
            vset.queries.append(listing_style(_load(views[i]), rng))
            vset.query_labels.append(obj)
    for n_obj, (obj, views) in enumerate(sorted((distractors or {}).items())):
        if kinds.get(obj) == "catalogue":
            picks = catalogue_views(len(views), random.Random(seed * 7_919 + n_obj), gallery_views)[0]
        else:
            picks = gallery_and_query_views(len(views), gallery_views, min_gap_degrees)[0]
        for i in picks:
            vset.gallery.append(_load(sorted(views)[i]))
            vset.gallery_labels.append(obj)
    return vset


def _load(path: Path) -> Image.Image:
    with Image.open(path) as img:
        return img.convert("RGB")


def retrieval_metrics(
    gallery: np.ndarray,
    gallery_labels: Sequence[str],
    queries: np.ndarray,
    query_labels: Sequence[str | None],
) -> dict[str, float]:
    """top-1, AP, R@P95, FP@R90 of unit-vector queries against a gallery (label None: unprotected)."""
    artefacts = sorted(set(gallery_labels))
    if not artefacts:
        raise ModelError("empty validation gallery")
    sim = queries @ gallery.T  # (Q, G) cosine
    labels = np.array(gallery_labels)
    per_artefact = np.stack([sim[:, labels == a].max(axis=1) for a in artefacts], axis=1)  # (Q, A)
    best = per_artefact.max(axis=1)
    top = np.array(artefacts)[per_artefact.argmax(axis=1)]
    protected = np.array([t is not None for t in query_labels])
    correct = protected & (top == np.array([t or "" for t in query_labels]))
    n_pos, n_neg = int(protected.sum()), int((~protected).sum())
    order = np.argsort(-best, kind="stable")
    scores = best[order]
    last = np.r_[np.nonzero(np.diff(scores))[0], len(scores) - 1]  # tied scores are flagged together
    tp = np.cumsum(correct[order])[last]
    fp_neg = np.cumsum(~protected[order])[last]
    precision = tp / (last + 1.0)
    recall = tp / n_pos if n_pos else np.full(len(last), np.nan)
    ap = float(np.sum(np.diff(np.r_[0.0, recall]) * precision)) if n_pos else math.nan
    ok = precision >= 0.95
    r_at_p95 = float(recall[ok].max()) if ok.any() else 0.0
    reach = np.nonzero(recall >= 0.90)[0] if n_pos else np.zeros(0, dtype=np.int64)
    fp_at_r90 = float(fp_neg[reach[0]] / n_neg) if reach.size and n_neg else math.nan
    top1 = float(correct[protected].mean()) if n_pos else math.nan
    return {"top1": top1, "ap": ap, "r_at_p95": r_at_p95, "fp_at_r90": fp_at_r90}


def unprotected_groups(objects: Sequence[str], n_folds: int | None = None) -> dict[str, list[str]]:
    """Which held-out objects are unprotected in each fold: one object per fold (leave-one-object-out,
    ``n_folds`` None) or ``n_folds`` interleaved groups over the sorted objects (each object
    unprotected once; with 3 folds a third of the listings are unprotected, as in the benchmarks)."""
    ordered = sorted(objects)
    if n_folds is None or n_folds >= len(ordered):
        return {o: [o] for o in ordered}
    return {f"fold{i + 1}": ordered[i::n_folds] for i in range(n_folds)}


def evaluate_embeddings(
    gallery: np.ndarray,
    gallery_labels: Sequence[str],
    queries: np.ndarray,
    query_labels: Sequence[str],
    n_folds: int | None = None,
) -> dict[str, Any]:
    """Folds in which some held-out objects are unprotected (their gallery photos dropped, their
    listing photos kept; :func:`unprotected_groups`); the mean and each fold's numbers. Gallery
    objects never queried are distractors in every fold."""
    objects = sorted(set(query_labels))
    if len(objects) < 2:
        raise ModelError("validation needs at least two held-out objects (one protected, one not)")
    folds: dict[str, dict[str, float]] = {}
    g_labels = np.array(gallery_labels)
    for name, out in unprotected_groups(objects, n_folds).items():
        keep = ~np.isin(g_labels, out)
        q_truth = [None if q in out else q for q in query_labels]
        folds[name] = retrieval_metrics(gallery[keep], list(g_labels[keep]), queries, q_truth)
    # a fold that never reaches recall 0.90 counts as FP@R90 = 1 (everything flagged, still short)
    mean = {k: _nanmean([f[k] for f in folds.values()]) for k in METRIC_KEYS if k != "fp_at_r90"}
    mean["fp_at_r90"] = float(np.mean([1.0 if math.isnan(f["fp_at_r90"]) else f["fp_at_r90"] for f in folds.values()]))
    return {**mean, "folds": folds}


def evaluate_descriptor(model: Any, vset: ValidationSet, n_folds: int | None = None) -> dict[str, Any]:
    """Embed the validation photos with ``model`` (anything with ``embed(images)``) and score them."""
    g = model.embed(vset.gallery)
    q = model.embed(vset.queries)
    return evaluate_embeddings(g, vset.gallery_labels, q, vset.query_labels, n_folds)


def selection_score(metrics: dict[str, Any]) -> float:
    """One number to pick an epoch by (higher is better): AP + R@P95 - FP@R90 (nan FP counts as 1)."""
    fp = metrics["fp_at_r90"]
    return float(metrics["ap"] + metrics["r_at_p95"] - (1.0 if math.isnan(fp) else fp))


def rounded(metrics: dict[str, Any], digits: int = 4) -> dict[str, Any]:
    """JSON-friendly copy (nan -> None) for the card."""
    out: dict[str, Any] = {}
    for k, v in metrics.items():
        if isinstance(v, dict):
            out[k] = rounded(v, digits)
        elif isinstance(v, float):
            out[k] = None if math.isnan(v) else round(v, digits)
        else:
            out[k] = v
    return out


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan
