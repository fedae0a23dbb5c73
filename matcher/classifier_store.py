"""Published instance-classifier versions under ``settings.checkpoints_dir/classifier/``.

Layout (a :class:`lootwatch.core.versioned.VersionedStore`)::

    classifier/
      CURRENT                       the live version's name
      <version>/classifier.pt       checkpoint (card, state_dict, classes)
      <version>/classifier-2.pt ... further members when ``classifier_backbones`` names several: an
                                    ensemble whose calibrated softmax is averaged (one version)
      <version>/card.json           its model card, plus why and from what it was trained
      <version>/fusion.json         the fused alert threshold for the worker's descriptor
                                    (:mod:`matcher.fusion_threshold`)

A version without ``classifier.pt`` is never live. Workers follow CURRENT between batches
(``workers.engine``); :mod:`matcher.retrain` publishes new versions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lootwatch.core.settings import Settings
from lootwatch.core.versioned import VersionedStore

if TYPE_CHECKING:
    from lootwatch.models.classifier import Ensemble, LoadedClassifier

CHECKPOINT = "classifier.pt"
CARD = "card.json"
FUSION_FILE = "fusion.json"


def classifier_root(settings: Settings) -> Path:
    return settings.checkpoints_dir / "classifier"


def classifier_versions(root: Path) -> VersionedStore:
    return VersionedStore(root, marker=CHECKPOINT)


def current_version(settings: Settings) -> str | None:
    return classifier_versions(classifier_root(settings)).current()


def current_checkpoint(settings: Settings) -> Path | None:
    """The live classifier checkpoint (its first member for an ensemble), or None before the first training."""
    folder = classifier_versions(classifier_root(settings)).current_path()
    return None if folder is None else folder / CHECKPOINT


def member_name(n: int) -> str:
    """The file of an ensemble's ``n``-th member (1-based)."""
    return CHECKPOINT if n == 1 else f"classifier-{n}.pt"


def member_checkpoints(folder: Path) -> list[Path]:
    """A published version's checkpoints: ``classifier.pt``, then ``classifier-2.pt``, ``classifier-3.pt``..."""
    paths = [folder / CHECKPOINT]
    n = 2
    while (folder / member_name(n)).is_file():
        paths.append(folder / member_name(n))
        n += 1
    return paths


def load_published(folder: Path, device: str = "cpu") -> LoadedClassifier | Ensemble:
    """The classifier a version folder holds: one checkpoint, or the ensemble of its members."""
    from lootwatch.models.classifier import load_classifiers  # heavy import: torch, only where a classifier runs

    return load_classifiers(member_checkpoints(folder), device)
