"""Classifier probabilities laid out over the index's artefacts, and fused with the descriptor's.

Shared by the worker's scoring (``workers.engine``) and the fused threshold's calibration
(:mod:`matcher.fusion_threshold`), so both fuse exactly alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from lootwatch.matcher.fusion import fuse

if TYPE_CHECKING:
    from lootwatch.models.classifier import Ensemble, LoadedClassifier


def fused_matrix(p: np.ndarray, q: np.ndarray, known: np.ndarray, rule: str, weight: float) -> np.ndarray:
    """Fused (n, C) scores; columns the classifier does not know (``known`` False) keep ``q``."""
    return np.where(known[None, :], fuse(p, q, weight, rule), q).astype(np.float32)


def classifier_columns(
    model: LoadedClassifier | Ensemble, probs: np.ndarray, classes: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Classifier probabilities re-ordered to ``classes`` (0 where unknown) and the known mask."""
    col = {c: i for i, c in enumerate(model.classes)}
    known = np.array([c in col for c in classes], dtype=bool)
    p = np.zeros((len(probs), len(classes)), dtype=np.float32)
    for j, c in enumerate(classes):
        if c in col:
            p[:, j] = probs[:, col[c]]
    return p, known
