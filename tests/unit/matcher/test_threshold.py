from __future__ import annotations

import numpy as np
import pytest
from lootwatch.matcher.threshold import (
    LEVELS,
    alert_levels,
    calibrate_threshold,
    fp_threshold,
    leave_one_out_scores,
    prior_scores,
    query_scores,
)

from lootwatch.core.errors import BadInputError


def clusters(n_artefacts: int, per: int, noise: float, dim: int = 32, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_artefacts, dim))
    x = np.repeat(centres, per, axis=0) + noise * rng.normal(size=(n_artefacts * per, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), [f"A{i}" for i in range(n_artefacts) for _ in range(per)]


def test_well_separated_gallery_levels_sit_above_the_impostors() -> None:
    x, ids = clusters(20, 4, noise=0.2)
    cal = calibrate_threshold(x, ids)
    genuine, impostor, n = leave_one_out_scores(x, ids)
    assert n == 80 and genuine.size == 80 and impostor.size == 80
    review, notify = cal.levels["review"], cal.levels["notify"]
    assert cal.threshold == review["threshold"] and cal.notify_threshold == notify["threshold"]
    assert (impostor >= cal.threshold).mean() <= LEVELS["review"]
    assert (impostor >= cal.notify_threshold).mean() <= LEVELS["notify"]
    assert notify["threshold"] >= review["threshold"]  # the stricter level for e-mail and Slack
    assert genuine.min() > cal.notify_threshold  # every genuine pair would notify
    assert review["expected_recall"] == 1.0 and review["expected_fp"] == pytest.approx(review["fp_gallery"])
    assert cal.genuine.n == 80 and cal.impostor.max == pytest.approx(impostor.max())


def test_overlapping_distributions_keep_the_false_alert_rate_not_the_recall() -> None:
    x, ids = clusters(20, 4, noise=3.0)
    cal = calibrate_threshold(x, ids)
    genuine, impostor, _ = leave_one_out_scores(x, ids)
    # the old rule pulled the threshold down to the genuine median; the levels hold their false-alert rate
    assert cal.threshold > np.quantile(genuine, 0.5)
    assert (impostor >= cal.threshold).mean() <= 0.10
    assert cal.levels["review"]["expected_recall"] < 0.5


def test_fp_threshold_is_the_lowest_score_within_the_target() -> None:
    scores = np.arange(100, dtype=np.float64)  # 0..99
    t = fp_threshold(scores, 0.05)
    assert (scores >= t).sum() == 5 and t == pytest.approx(94.5)
    assert fp_threshold(scores, 0.001) > 99  # not even one may alert
    assert fp_threshold(np.array([3.0, 3.0, 3.0, 1.0]), 0.5) > 3.0  # ties enter together


def test_prior_scores_grow_with_the_gallery_and_raise_the_threshold() -> None:
    u = np.linspace(0.0, 1.0, 101)
    prior = {"impostor_one": 0.2 + 0.4 * u, "genuine": 0.5 + 0.4 * u}
    _, small = prior_scores(prior, 5)
    _, big = prior_scores(prior, 500)
    assert np.median(big) > np.median(small)  # the best of more artefacts scores higher
    # the max of n draws has cdf F^n: check one point of it
    assert (small <= 0.5).mean() == pytest.approx(0.75**5, abs=0.01)
    genuine, impostor = prior_scores(prior, 50, contrast=0.5)
    assert np.isneginf(genuine).any()  # some own views lose to another artefact: no recall there
    x, ids = clusters(20, 4, noise=3.0)
    without = calibrate_threshold(x, ids)
    shifted = {"impostor_one": 0.9 + 0.05 * u, "genuine": 0.95 + 0.05 * u}
    with_prior = calibrate_threshold(x, ids, prior=shifted)
    assert with_prior.threshold is not None and without.threshold is not None
    assert with_prior.threshold > without.threshold  # the stricter estimate binds
    assert "held-out prior binding" in with_prior.levels["review"]["rule"]
    lv = with_prior.levels["notify"]
    assert lv["expected_fp"] == max(lv["fp_gallery"], lv["fp_prior"]) and lv["fp_prior"] <= 0.02


def test_levels_refuse_a_meaningless_target() -> None:
    with pytest.raises(BadInputError):
        alert_levels(np.ones(3), np.zeros(3), levels={"notify": 1.5})


def test_leave_one_out_never_scores_a_photo_against_itself() -> None:
    x = np.eye(4, dtype=np.float32)  # every photo orthogonal to every other
    genuine, impostor, _ = leave_one_out_scores(x, ["a", "a", "b", "b"])
    assert genuine.tolist() == [0, 0, 0, 0]  # self-similarity 1.0 left out
    assert impostor.tolist() == [0, 0, 0, 0]


def test_restaged_queries_leave_their_source_photo_out() -> None:
    x = np.eye(3, dtype=np.float32)
    queries = np.array([[1.0, 0.6, 0.0]], dtype=np.float32)  # a copy of photo 0, a bit like photo 1
    genuine, impostor = query_scores(queries, np.array([0]), x, ["a", "a", "b"])
    assert genuine.tolist() == pytest.approx([0.6])  # not 1.0: photo 0 is its source
    assert impostor.tolist() == pytest.approx([0.0])
    cal = calibrate_threshold(x, ["a", "a", "b"], queries=queries, sources=np.array([0]))
    assert cal.queries == "restaged gallery photos" and cal.n_queries == 1


def test_contrast_scores_leave_the_query_artefact_out_as_an_unprotected_object_would_be() -> None:
    x = np.eye(4, dtype=np.float32)  # photos: a, a, b, c
    q = np.array([[1.0, 0.8, 0.5, 0.2]], dtype=np.float32)  # a copy of photo 0
    genuine, impostor = query_scores(q, np.array([0]), x, ["a", "a", "b", "c"], contrast=0.5)
    assert genuine.tolist() == pytest.approx([0.8 - 0.5 * 0.5])  # own artefact vs the best other (b)
    assert impostor.tolist() == pytest.approx([0.5 - 0.5 * 0.2])  # a absent: b vs the next other (c)


def test_degenerate_galleries() -> None:
    x, ids = clusters(1, 3, noise=0.3)
    one = calibrate_threshold(x, ids)
    assert one.impostor.n == 0 and one.threshold is not None and "no other artefact" in one.rule
    assert one.notify_threshold == one.threshold
    single = calibrate_threshold(x[:1], ids[:1])
    assert single.threshold is None and single.genuine.n == 0


def test_big_galleries_are_sampled_deterministically() -> None:
    x, ids = clusters(50, 4, noise=0.3)
    a = calibrate_threshold(x, ids, max_queries=60)
    b = calibrate_threshold(x, ids, max_queries=60)
    assert a.n_queries == 60 and a.threshold == b.threshold
