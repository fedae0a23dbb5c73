"""Closed-set classification metrics: precision/recall/F1 and top-k, overall and per group.

Over the photos whose true artefact is one of the classifier's classes (the open-set alert metrics
-- AP, R@P95, FP@R90 -- live in ``matcher.metrics``). Groups are e.g. the artefact's collection or
its number of training photos, given as ``group_of[artefact] -> label``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

TOP_KS = (1, 3, 5, 10)


def classification_report(
    scores: np.ndarray,
    classes: Sequence[str],
    truths: Sequence[str | None],
    groups: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """``scores`` (n, C) in ``classes`` order; ``truths`` None for photos of no class (skipped).

    Returns ``{"overall": {...}, "<grouping>": {"<label>": {...}}}`` where each ``{...}`` holds
    n, top1/top3/top5/top10 and macro precision/recall/F1 over the artefacts of that group.
    """
    index = {c: i for i, c in enumerate(classes)}
    keep = [i for i, t in enumerate(truths) if t is not None and t in index]
    s = np.asarray(scores)[keep]
    y = np.array([index[str(truths[i])] for i in keep], dtype=np.int64)
    out: dict[str, Any] = {"overall": _metrics(s, y, np.arange(len(classes)))}
    for grouping, group_of in (groups or {}).items():
        labels = sorted({group_of.get(c, "") for c in classes})
        out[grouping] = {}
        for label in labels:
            members = np.array([index[c] for c in classes if group_of.get(c, "") == label], dtype=np.int64)
            rows = np.isin(y, members)
            out[grouping][label] = _metrics(s[rows], y[rows], members)
    return out


def _metrics(scores: np.ndarray, y: np.ndarray, members: np.ndarray) -> dict[str, float]:
    n = len(y)
    row: dict[str, float] = {"n": float(n)}
    if n == 0:
        return row
    order = np.argsort(-scores, axis=1)
    for k in TOP_KS:
        row[f"top{k}"] = float((order[:, :k] == y[:, None]).any(axis=1).mean())
    pred = order[:, 0]
    precisions, recalls, f1s = [], [], []
    for c in members:
        tp = float(((pred == c) & (y == c)).sum())
        predicted, actual = float((pred == c).sum()), float((y == c).sum())
        p = tp / predicted if predicted else 0.0
        r = tp / actual if actual else 0.0
        precisions.append(p)
        recalls.append(r)
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
    row.update(precision=float(np.mean(precisions)), recall=float(np.mean(recalls)), f1=float(np.mean(f1s)))
    return row
