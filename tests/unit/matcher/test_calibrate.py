from __future__ import annotations

import numpy as np
import pytest
from lootwatch.matcher.calibrate import calibrate_threshold, leave_one_out_scores, query_scores


def clusters(n_artefacts: int, per: int, noise: float, dim: int = 32, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_artefacts, dim))
    x = np.repeat(centres, per, axis=0) + noise * rng.normal(size=(n_artefacts * per, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), [f"A{i}" for i in range(n_artefacts) for _ in range(per)]


def test_well_separated_gallery_threshold_sits_between_impostors_and_genuines() -> None:
    x, ids = clusters(20, 4, noise=0.2)
    cal = calibrate_threshold(x, ids)
    genuine, impostor, n = leave_one_out_scores(x, ids)
    assert n == 80 and genuine.size == 80 and impostor.size == 80
    assert cal.threshold == pytest.approx(np.quantile(impostor, 0.95))
    assert cal.rule.startswith("quantile(impostor")
    assert genuine.min() > cal.threshold  # every genuine pair would alert
    assert (impostor >= cal.threshold).mean() <= 0.05 + 1e-9
    assert cal.genuine.n == 80 and cal.impostor.max == pytest.approx(impostor.max())


def test_overlapping_distributions_cap_the_threshold_at_the_genuine_median() -> None:
    x, ids = clusters(20, 4, noise=3.0)
    cal = calibrate_threshold(x, ids)
    genuine, impostor, _ = leave_one_out_scores(x, ids)
    assert np.quantile(impostor, 0.95) > np.quantile(genuine, 0.5)
    assert cal.threshold == pytest.approx(np.quantile(genuine, 0.5))
    assert cal.rule.startswith("quantile(genuine, 0.5)")


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
    single = calibrate_threshold(x[:1], ids[:1])
    assert single.threshold is None and single.genuine.n == 0


def test_big_galleries_are_sampled_deterministically() -> None:
    x, ids = clusters(50, 4, noise=0.3)
    a = calibrate_threshold(x, ids, max_queries=60)
    b = calibrate_threshold(x, ids, max_queries=60)
    assert a.n_queries == 60 and a.threshold == b.threshold
