"""The held-out fusion check: descriptor alone, logit pool or classifier alone, by held-out AP."""

from __future__ import annotations

import numpy as np
import pytest
from lootwatch.matcher.fusion import decide_fusion, heldout_results


def _scores(rng: np.random.Generator, n: int, c: int, labels: np.ndarray, sharp: float) -> np.ndarray:
    """Calibrated-looking scores whose own-artefact column is higher by ``sharp`` on average."""
    x = rng.random((n, c)) * 0.5
    x[np.arange(n), labels] += sharp * rng.random(n)
    return np.clip(x, 0.01, 0.99).astype(np.float32)


def test_each_view_is_a_protected_and_an_unprotected_query() -> None:
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], dtype=np.float32)
    q = np.array([[0.9, 0.4, 0.3], [0.2, 0.8, 0.1]], dtype=np.float32)
    res = heldout_results(p, q, np.array([0, 1]), weight=0.0)
    assert [r.truth for r in res] == ["0", None, "1", None]
    # weight 0: the descriptor alone; as an unprotected object, the own column is gone
    assert res[0].ranked == ("0",) and res[0].best_score == pytest.approx(0.9, abs=1e-5)
    assert res[1].ranked == ("1",) and res[1].best_score == pytest.approx(0.4, abs=1e-5)
    # weight 1: the classifier alone, renormalised over the other artefacts for the unknown object
    res = heldout_results(p, q, np.array([0, 1]), weight=1.0)
    assert res[2].ranked == ("2",) and res[2].best_score == pytest.approx(0.6, abs=1e-5)
    assert res[3].ranked == ("2",) and res[3].best_score == pytest.approx(0.6 / 0.7, abs=1e-5)


def test_a_useless_classifier_leaves_the_descriptor_alone() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 12, 200)
    q = _scores(rng, 200, 12, labels, sharp=0.6)
    p = np.full((200, 12), 1 / 12, dtype=np.float32) + 0.05 * rng.random((200, 12)).astype(np.float32)
    p /= p.sum(axis=1, keepdims=True)
    check = decide_fusion(p, q, labels)
    assert check["use"] == "descriptor" and check["weight"] == 0.0
    assert set(check["candidates"]) == {"0", "0.5", "1"} and check["n_views"] == 200
    best = max(c["ap"] for c in check["candidates"].values())
    assert check["candidates"]["0"]["ap"] == best


def test_a_classifier_that_adds_evidence_is_fused() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 12, 300)
    q = _scores(rng, 300, 12, labels, sharp=0.5)
    p = _scores(rng, 300, 12, labels, sharp=0.5)  # independent evidence of the same quality
    check = decide_fusion(p, q, labels)
    assert check["use"] == "fusion" and check["weight"] == 0.5
    rows = check["candidates"]
    assert rows["0.5"]["ap"] > max(rows["0"]["ap"], rows["1"]["ap"])
    assert "vs descriptor alone" in check["reason"]
