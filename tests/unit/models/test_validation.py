from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from lootwatch.models.errors import ModelError
from lootwatch.models.validation import (
    build_validation_set,
    evaluate_embeddings,
    gallery_and_query_views,
    retrieval_metrics,
    selection_score,
    split_objects,
)
from PIL import Image


def unit(rows: list[list[float]]) -> np.ndarray:
    a = np.array(rows, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_split_is_deterministic_whole_objects_and_checked() -> None:
    objects = [f"obj{i:03d}" for i in range(1, 21)]
    train, held = split_objects(objects, 4, seed=0)
    assert held == split_objects(list(reversed(objects)), 4, seed=0)[1]  # order-independent
    assert len(held) == 4 and not set(held) & set(train) and sorted(train + held) == objects
    assert split_objects(objects, 4, seed=1)[1] != held
    with pytest.raises(ModelError, match="at least 2 held-out and 2 training"):
        split_objects(objects[:3], 2)


def test_turntable_views_keep_the_20_degree_gap() -> None:
    gallery, queries = gallery_and_query_views(72)  # COIL: every 5 degrees
    assert gallery == [0, 18, 36, 54]
    assert len(queries) == 4 * 11  # 20..70 degrees in each quadrant
    assert all(min(abs(q - g), 72 - abs(q - g)) * 5 >= 20 for q in queries for g in gallery)


def test_metrics_follow_the_benchmark_definitions() -> None:
    gallery = unit([[1, 0, 0], [0, 1, 0]])
    labels = ["A", "B"]
    queries = unit([[1, 0.1, 0], [0.1, 1, 0], [0.9, 0, 0.6], [1, 0.8, 0]])
    # scores: q0 A .995, q1 B .995, q2 unprotected .83, q3 protected B but A wins (.78)
    m = retrieval_metrics(gallery, labels, queries, ["A", "B", None, "B"])
    assert m["top1"] == pytest.approx(2 / 3)
    # ranking (ties enter together): q0,q1 correct (p=1, r=2/3), q2 false, q3 wrong artefact
    assert m["ap"] == pytest.approx(2 / 3)
    assert m["r_at_p95"] == pytest.approx(2 / 3)
    assert math.isnan(m["fp_at_r90"])  # recall 0.90 never reached
    perfect = retrieval_metrics(gallery, labels, queries[:3], ["A", "B", None])
    assert perfect["ap"] == 1.0 and perfect["r_at_p95"] == 1.0 and perfect["fp_at_r90"] == 0.0


def test_folds_count_unreachable_recall_as_everything_flagged() -> None:
    gallery = unit([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    queries = unit([[1, 0.05, 0], [0.05, 1, 0], [0, 0.05, 1]])
    result = evaluate_embeddings(gallery, ["A", "B", "C"], queries, ["A", "B", "C"])
    assert set(result["folds"]) == {"A", "B", "C"}
    assert result["ap"] == 1.0 and result["fp_at_r90"] == 0.0
    assert selection_score(result) == pytest.approx(2.0)
    assert selection_score({"ap": 0.5, "r_at_p95": 0.2, "fp_at_r90": math.nan}) == pytest.approx(-0.3)
    with pytest.raises(ModelError, match="at least two"):
        evaluate_embeddings(gallery[:1], ["A"], queries[:1], ["A"])


def test_validation_set_restages_only_non_gallery_views(tmp_path: Path) -> None:
    photos = {}
    for obj, shade in (("a", 200), ("b", 120)):
        paths = []
        for i in range(8):
            p = tmp_path / f"{obj}{i}.png"
            img = Image.new("RGB", (48, 48))
            img.paste((shade, 40 * (i % 4), 30), (12, 12, 36, 36))  # an object on a black studio backdrop
            img.save(p)
            paths.append(p)
        photos[obj] = paths
    v1 = build_validation_set(photos, min_gap_degrees=90)
    v2 = build_validation_set(photos, min_gap_degrees=90)
    assert v1.gallery_labels == ["a"] * 4 + ["b"] * 4
    assert v1.query_labels == ["a"] * 4 + ["b"] * 4  # odd views: 45 degrees from the gallery, < 90: fallback
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(v1.queries, v2.queries, strict=True))
