from __future__ import annotations

import math

import pytest
from lootwatch.matcher.metrics import (
    ListingResult,
    average_precision,
    compute_metrics,
    fp_at_recall,
    gallery_size_bucket,
    grouped_metrics,
    listing_level,
    operating_point,
    pr_curve,
    recall_at_precision,
    top_k,
)


def L(truth: str | None, ranked: str, score: float) -> ListingResult:
    return ListingResult(truth, tuple(ranked.split()), score)


# 3 protected (one matched to the wrong artefact), 2 unprotected; recall never reaches 0.90
CASE_A = [
    L("a1", "a1 a2", 0.9),  # correct
    L(None, "a1 a2", 0.8),  # false alert
    L("a2", "a2 a1", 0.7),  # correct
    L("a3", "a1 a3", 0.6),  # protected but top artefact wrong: not correct
    L(None, "a2 a1", 0.5),
]

# 2 protected both right, 3 unprotected: recall 1.0 reached at t=0.8 with one unprotected flagged
CASE_B = [
    L("a1", "a1", 0.9),
    L(None, "a1", 0.85),
    L("a2", "a2", 0.8),
    L(None, "a2", 0.7),
    L(None, "a1", 0.6),
]


def test_top_k_counts_protected_photos_only() -> None:
    assert top_k(CASE_A, 1) == pytest.approx(2 / 3)
    assert top_k(CASE_A, 2) == 1.0  # a3 is second for its listing
    assert top_k(CASE_A, 10) == 1.0


def test_pr_curve_case_a() -> None:
    c = pr_curve(CASE_A)
    assert c.thresholds.tolist() == [0.9, 0.8, 0.7, 0.6, 0.5]
    assert c.precision.tolist() == pytest.approx([1, 1 / 2, 2 / 3, 2 / 4, 2 / 5])
    assert c.recall.tolist() == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3, 2 / 3])
    assert c.fp_rate.tolist() == pytest.approx([0, 0.5, 0.5, 0.5, 1.0])


def test_case_a_metrics() -> None:
    m = compute_metrics(CASE_A)
    assert m.ap == pytest.approx(1 / 3 * 1 + 1 / 3 * 2 / 3)  # 5/9
    assert m.r_at_p95 == pytest.approx(1 / 3)
    assert math.isnan(m.fp_at_r90)  # recall stops at 2/3
    assert (m.n_protected, m.n_unprotected) == (3, 2)


def test_case_b_metrics() -> None:
    m = compute_metrics(CASE_B)
    assert m.ap == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert m.r_at_p95 == pytest.approx(0.5)
    assert m.fp_at_r90 == pytest.approx(1 / 3)  # strictest threshold with recall >= 0.9 is 0.8
    assert m.top1 == 1.0


def test_r_at_p95_takes_the_largest_recall_with_enough_precision() -> None:
    # precision dips (0.5) then recovers to 20/21 >= 0.95: the later, larger recall counts
    results = [L("a", "a", 1.0), L(None, "a", 0.99)] + [L("a", "a", 0.9 - i / 100) for i in range(19)]
    assert recall_at_precision(pr_curve(results)) == pytest.approx(20 / 20)
    strict = [L(None, "a", 1.0), L("a", "a", 0.5)]
    assert recall_at_precision(pr_curve(strict)) == 0.0


def test_tied_scores_are_flagged_together() -> None:
    results = [L("a", "a", 0.8), L(None, "b", 0.8)]
    c = pr_curve(results)
    assert c.thresholds.tolist() == [0.8]
    assert average_precision(c) == pytest.approx(0.5)
    assert recall_at_precision(c) == 0.0
    assert fp_at_recall(c) == 1.0


def test_no_unprotected_photo_gives_nan_false_alarm_rate() -> None:
    m = compute_metrics([L("a", "a", 0.9), L("b", "b", 0.8)])
    assert m.ap == 1.0 and m.r_at_p95 == 1.0
    assert math.isnan(m.fp_at_r90)


def test_unranked_listing_is_never_flagged() -> None:
    results = [L("a", "a", 0.9), ListingResult("b", (), -math.inf), L(None, "a", 0.1)]
    m = compute_metrics(results)
    assert m.ap == pytest.approx(0.5)  # half the protected photos can never be recalled
    assert m.top1 == 0.5


def test_operating_point_at_a_threshold() -> None:
    p, r, f = operating_point(CASE_B, 0.8)
    assert (p, r, f) == pytest.approx((2 / 3, 1.0, 1 / 3))
    p, r, f = operating_point(CASE_B, 2.0)
    assert math.isnan(p) and r == 0.0 and f == 0.0
    m = compute_metrics(CASE_B, threshold=0.8)
    assert m.precision_at_threshold == pytest.approx(2 / 3)
    assert m.to_dict()["fp_at_r90"] == pytest.approx(1 / 3)
    assert compute_metrics(CASE_A).to_dict()["fp_at_r90"] is None  # nan is written as null


def test_grouped_metrics_keep_every_unprotected_photo() -> None:
    groups = grouped_metrics(CASE_A, {"a1": "x", "a2": "x", "a3": "y"})
    assert set(groups) == {"x", "y"}
    assert (groups["x"].n_protected, groups["x"].n_unprotected) == (2, 2)
    assert groups["x"].top1 == 1.0
    assert groups["y"].top1 == 0.0 and groups["y"].ap == 0.0


def test_notify_level_is_reported_beside_the_review_level() -> None:
    m = compute_metrics(CASE_B, threshold=0.7, notify_threshold=0.88)
    assert (m.recall_at_threshold, m.fp_rate_at_threshold) == pytest.approx((1.0, 2 / 3))
    assert (m.recall_at_notify, m.fp_rate_at_notify, m.precision_at_notify) == pytest.approx((0.5, 0.0, 1.0))
    assert compute_metrics(CASE_B).notify_threshold is None


def test_gallery_size_rows_bucket_photo_counts() -> None:
    assert [gallery_size_bucket(n) for n in (1, 2, 3, 4, 5, 30)] == ["1-2", "1-2", "3-4", "3-4", "5+", "5+"]
    groups = grouped_metrics(CASE_A, {"a1": gallery_size_bucket(1), "a2": gallery_size_bucket(4), "a3": "3-4"})
    assert set(groups) == {"1-2", "3-4"} and groups["3-4"].n_protected == 2


def test_a_listing_scores_each_artefact_by_its_best_photo() -> None:
    ids, results = listing_level(
        [
            ("L1", "a1", [("a2", 0.6), ("a1", 0.5)]),  # front view: the wrong artefact first
            ("L2", None, [("a1", 0.4)]),
            ("L1", "a1", [("a1", 0.9), ("a3", 0.2)]),  # a detail of the base finds it
            ("L3", None, []),  # a photo nothing was found for
            ("L4", None, [("a2", 0.7)]),
            ("L4", "a2", [("a2", 0.65)]),  # a lot whose second photo shows a protected object
        ]
    )
    assert ids == ["L1", "L2", "L3", "L4"]
    l1, l2, l3, l4 = results
    assert l1.truth == "a1" and l1.ranked == ("a1", "a2", "a3") and l1.best_score == 0.9 and l1.correct
    assert l2.truth is None and l2.best_score == 0.4
    assert l3.ranked == () and l3.best_score == -math.inf
    assert l4.truth == "a2" and l4.correct and l4.best_score == 0.7
    m = compute_metrics(results)
    assert (m.n_protected, m.n_unprotected) == (2, 2) and m.ap == 1.0
