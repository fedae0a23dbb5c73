"""Model cards: everything needed to rebuild a model, and to tell two models apart.

A card travels with every checkpoint and every index built from it. A model is always rebuilt
from its card (architecture, backbone, pooling, dim, input size, normalisation), never unpickled.
This module loads no torch, so the matcher and the web app read cards without it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lootwatch.models.errors import ModelError

if TYPE_CHECKING:
    import torch

CARD_FIELDS = (
    "name",
    "kind",
    "arch",
    "backbone",
    "backbone_weights",
    "dim",
    "input_size",
    "mean",
    "std",
    "weights_sha256",
    "training_data_sha256",
    "extra",
)
# the fields that change the vectors a descriptor gives: an index built under another value is refused
IDENTITY_FIELDS = tuple(f for f in CARD_FIELDS if f not in ("kind", "training_data_sha256", "extra"))


@dataclass
class ModelCard:
    name: str
    kind: str  # "descriptor" or "classifier"
    arch: str  # pan, pan-noatt, pan-single, gem, gem-learn, rmac, spoc, mac, netvlad
    backbone: str  # timm/torchvision model name
    backbone_weights: str  # where the backbone's starting weights came from
    dim: int
    input_size: tuple[int, int]  # (h, w)
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    weights_sha256: str = ""
    training_data_sha256: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return card_version(self)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["input_size"] = list(self.input_size)
        d["mean"] = list(self.mean)
        d["std"] = list(self.std)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCard:
        if not isinstance(data, Mapping):
            raise ModelError(f"model card is not a mapping but {type(data).__name__}")
        missing = [f for f in CARD_FIELDS if f not in data and f not in ("extra", "training_data_sha256")]
        if missing:
            raise ModelError(f"model card lacks {', '.join(missing)}")
        unknown = sorted(set(data) - set(CARD_FIELDS))
        if unknown:
            raise ModelError(f"model card has unknown fields {', '.join(unknown)}")
        try:
            size = tuple(int(v) for v in data["input_size"])
            mean = tuple(float(v) for v in data["mean"])
            std = tuple(float(v) for v in data["std"])
            if len(size) != 2 or len(mean) != 3 or len(std) != 3:
                raise ValueError("input_size needs 2 values, mean and std 3")
            return cls(
                name=str(data["name"]),
                kind=str(data["kind"]),
                arch=str(data["arch"]),
                backbone=str(data["backbone"]),
                backbone_weights=str(data["backbone_weights"]),
                dim=int(data["dim"]),
                input_size=(size[0], size[1]),
                mean=(mean[0], mean[1], mean[2]),
                std=(std[0], std[1], std[2]),
                weights_sha256=str(data["weights_sha256"]),
                training_data_sha256=str(data.get("training_data_sha256", "")),
                extra=dict(data.get("extra") or {}),
            )
        except (TypeError, ValueError) as exc:
            raise ModelError(f"malformed model card: {exc}") from exc


def card_dict(card: Any) -> dict[str, Any]:
    """A ModelCard (or anything with ``to_dict``) or its dict form -> a plain JSON-able dict."""
    if hasattr(card, "to_dict"):
        return dict(card.to_dict())
    if isinstance(card, Mapping):
        return json.loads(json.dumps(dict(card)))  # normalise tuples to lists, as meta.json holds them
    raise TypeError(f"not a model card: {type(card).__name__}")


def card_version(card: ModelCard | Mapping[str, Any]) -> str:
    """A card's version, ``<name>-<first 12 of weights_sha256>``, from a card or its dict form
    (as an index's meta.json holds it)."""
    if isinstance(card, ModelCard):
        return f"{card.name}-{card.weights_sha256[:12]}"
    return f"{card.get('name', '?')}-{str(card.get('weights_sha256', ''))[:12]}"


def state_dict_sha256(state_dict: Mapping[str, torch.Tensor]) -> str:
    """A hash of names, dtypes, shapes and values, independent of how the file was written."""
    import torch  # heavy import: only where weights are hashed, so reading a card loads no torch

    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().to("cpu").contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        if t.numel():
            h.update(t.view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()
