"""Suggest alert thresholds from analysts' past verdicts.

Confirmed items are true matches, dismissed ones false alarms. At a candidate threshold ``t``
an item "would have alerted" when its score is ``>= t``; precision is the share of confirmed
among those, recall the share of all confirmed items kept. Items below the threshold in force
when they were matched never reached the queue, so recall here is relative to what was alerted:
the data can justify raising a threshold, never lowering it below the lowest score seen.

Two suggestions, one per alert level (:mod:`matcher.threshold`):

- **review** (the queue; ``collection_thresholds``): the threshold with the best precision among
  those keeping at least ``min_recall`` of the confirmed items (ties: the lowest, which keeps the most);
- **notify** (e-mail and Slack; ``notify_threshold``): the lowest threshold whose decided items at or
  above it were confirmed at least ``notify_precision`` of the time, so that a notice is rarely a
  false alarm while as many confirmed items as that allows still notify.

A collection with too few verdicts, or no dismissal at all, gets no suggestion.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

from lootwatch.core.db import Database
from lootwatch.core.errors import BadInputError

ALL = "(all collections)"


@dataclass(frozen=True)
class Point:
    threshold: float
    confirmed: int  # confirmed items kept (true positives)
    dismissed: int  # dismissed items kept (false positives)
    precision: float
    recall: float


@dataclass
class CollectionReport:
    collection: str
    confirmed: int
    dismissed: int
    points: list[Point] = field(default_factory=list)  # candidate thresholds, ascending
    suggested: Point | None = None  # the review level
    notify: Point | None = None  # the notify level
    reason: str = ""  # why there is no suggestion

    def to_dict(self) -> dict:
        return asdict(self)


def decided_scores(db: Database) -> list[tuple[str, float, bool]]:
    """(collection, score, confirmed?) of every item an analyst confirmed or dismissed."""
    rows = db.fetchall(
        """SELECT a.collection, r.score, r.state = 'confirmed' AS confirmed
           FROM review_items r JOIN artefacts a ON a.id = r.artefact_id
           WHERE r.state IN ('confirmed', 'dismissed') ORDER BY a.collection, r.score, r.id"""
    )
    return [(r["collection"], float(r["score"]), bool(r["confirmed"])) for r in rows]


def curve(scores: Sequence[tuple[float, bool]], thresholds: Iterable[float]) -> list[Point]:
    """Precision and recall at each threshold (ascending); precision is 1.0 when nothing is kept."""
    positives = sum(1 for _, ok in scores if ok)
    points = []
    for t in sorted(set(thresholds)):
        tp = sum(1 for s, ok in scores if ok and s >= t)
        fp = sum(1 for s, ok in scores if not ok and s >= t)
        points.append(Point(t, tp, fp, tp / (tp + fp) if tp + fp else 1.0, tp / positives if positives else 0.0))
    return points


def suggest_for(
    collection: str,
    scores: Sequence[tuple[float, bool]],
    *,
    min_recall: float = 0.95,
    min_decisions: int = 5,
    step: float = 0.05,
    notify_precision: float = 0.9,
) -> CollectionReport:
    confirmed = sum(1 for _, ok in scores if ok)
    report = CollectionReport(collection, confirmed, len(scores) - confirmed)
    if not scores:
        report.reason = "no decisions"
        return report
    lo, hi = min(s for s, _ in scores), max(s for s, _ in scores)
    grid = [round(k * step, 6) for k in range(math.floor(lo / step), math.ceil(hi / step) + 1)]
    report.points = curve(scores, grid)
    if confirmed < min_decisions:
        report.reason = f"only {confirmed} confirmed item(s); need {min_decisions}"
        return report
    if report.dismissed == 0:
        report.reason = "no dismissed item: no evidence of false alarms, keep the current threshold"
        return report
    # candidates: the scores seen (a threshold at a confirmed score still keeps that item)
    seen = curve(scores, [s for s, _ in scores])
    exact = [p for p in seen if p.recall >= min_recall]
    report.suggested = max(exact, key=lambda p: (p.precision, -p.threshold))
    precise = [p for p in seen if p.confirmed and p.precision >= notify_precision]
    report.notify = min(precise, key=lambda p: p.threshold) if precise else None
    return report


def suggest(
    db: Database,
    *,
    min_recall: float = 0.95,
    min_decisions: int = 5,
    step: float = 0.05,
    notify_precision: float = 0.9,
) -> list[CollectionReport]:
    """One report over all collections, then one per collection (by name)."""
    if not 0.0 < min_recall <= 1.0:
        raise BadInputError(f"min_recall must be in (0, 1], got {min_recall}")
    if not 0.0 < notify_precision <= 1.0:
        raise BadInputError(f"notify_precision must be in (0, 1], got {notify_precision}")
    if not 0.0 < step <= 1.0:
        raise BadInputError(f"step must be in (0, 1], got {step}")
    rows = decided_scores(db)
    groups = [(ALL, rows)] + [(n, [r for r in rows if r[0] == n]) for n in sorted({c for c, _, _ in rows})]
    return [
        suggest_for(
            name,
            [(s, ok) for _, s, ok in group],
            min_recall=min_recall,
            min_decisions=min_decisions,
            step=step,
            notify_precision=notify_precision,
        )
        for name, group in groups
    ]


def toml_snippet(reports: Iterable[CollectionReport]) -> str:
    """The suggested per-collection thresholds as the settings file takes them."""
    lines = [
        f"{json.dumps(r.collection)} = {r.suggested.threshold:.4f}"
        for r in reports
        if r.collection != ALL and r.suggested is not None
    ]
    return "[collection_thresholds]\n" + "\n".join(lines) + "\n" if lines else ""
