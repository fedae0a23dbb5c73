"""Threshold suggestions from verdicts: the precision / recall arithmetic and the choice."""

from __future__ import annotations

import tomllib

import pytest
from lootwatch.alerts.thresholds import ALL, CollectionReport, Point, curve, suggest_for, toml_snippet

# confirmed at 0.82..0.97, false alarms mostly low, one high
VERDICTS = [(0.82, True), (0.86, True), (0.9, True), (0.93, True), (0.97, True)] + [
    (0.80, False),
    (0.81, False),
    (0.84, False),
    (0.95, False),
]


def test_curve_counts_what_each_threshold_keeps() -> None:
    points = {p.threshold: p for p in curve(VERDICTS, [0.8, 0.85, 0.96, 0.99])}
    assert points[0.8] == Point(0.8, 5, 4, 5 / 9, 1.0)
    assert points[0.85] == Point(0.85, 4, 1, 0.8, 0.8)
    assert points[0.96] == Point(0.96, 1, 0, 1.0, 0.2)
    assert points[0.99] == Point(0.99, 0, 0, 1.0, 0.0)  # nothing kept: no false alarm either


def test_suggestion_keeps_every_confirmed_item_and_drops_low_false_alarms() -> None:
    report = suggest_for("Museum A", VERDICTS, min_recall=1.0, min_decisions=5)
    assert report.suggested == Point(0.82, 5, 2, 5 / 7, 1.0)
    assert [p.threshold for p in report.points] == [0.8, 0.85, 0.9, 0.95, 1.0]


def test_a_lower_recall_target_buys_precision() -> None:
    report = suggest_for("Museum A", VERDICTS, min_recall=0.8, min_decisions=5)
    assert report.suggested == Point(0.86, 4, 1, 0.8, 0.8)


@pytest.mark.parametrize(
    ("verdicts", "reason"),
    [
        ([], "no decisions"),
        ([(0.9, True), (0.5, False)], "only 1 confirmed item(s); need 5"),
        ([(0.8 + i / 100, True) for i in range(6)], "no dismissed item"),
    ],
)
def test_no_suggestion_without_enough_evidence(verdicts: list[tuple[float, bool]], reason: str) -> None:
    report = suggest_for("Museum A", verdicts, min_decisions=5)
    assert report.suggested is None and reason in report.reason


def test_toml_snippet_lists_collections_with_a_suggestion() -> None:
    reports = [
        CollectionReport(ALL, 9, 4, suggested=Point(0.8, 1, 1, 0.5, 1.0)),
        CollectionReport('Museum "A"', 5, 4, suggested=Point(0.82, 5, 2, 5 / 7, 1.0)),
        CollectionReport("Museum B", 1, 0, reason="only 1"),
    ]
    assert toml_snippet(reports) == '[collection_thresholds]\n"Museum \\"A\\"" = 0.8200\n'
    assert tomllib.loads(toml_snippet(reports)) == {"collection_thresholds": {'Museum "A"': 0.82}}
    assert toml_snippet(reports[2:]) == ""


def test_notify_level_is_the_lowest_threshold_precise_enough() -> None:
    # ascending: a dismissal at 0.55 and 0.72; above 0.72 only confirmed items
    verdicts = [(0.5, True), (0.55, False), (0.6, True), (0.72, False), (0.8, True), (0.9, True), (0.95, True)]
    report = suggest_for("bronze", verdicts, min_decisions=2, notify_precision=0.9)
    assert report.notify is not None and report.notify.threshold == 0.8
    assert (report.notify.precision, report.notify.dismissed) == (1.0, 0)
    loose = suggest_for("bronze", verdicts, min_decisions=2, notify_precision=0.75)
    assert loose.notify is not None and loose.notify.threshold == 0.6  # 3 of 4 confirmed from 0.6 up
    assert report.suggested is not None and report.suggested.threshold <= report.notify.threshold
