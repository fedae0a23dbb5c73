"""Vanilla-gradient saliency (Simonyan et al. 2014) of the instance classifier, as PNG overlays.

The saliency of pixel (y, x) is max over colour channels of |d logit_c / d input|, c the predicted
(or given) artefact; it is normalised to [0, 1], smoothed slightly and drawn as a heat map over the
photo, so an analyst sees which part of a listing photo made the classifier name the artefact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from lootwatch.models.classifier import LoadedClassifier, model_view
from lootwatch.models.descriptor import preprocess
from PIL import Image, ImageFilter


def saliency_map(clf: LoadedClassifier, image: Image.Image, target: int | None = None) -> tuple[np.ndarray, int]:
    """(h, w) saliency in [0, 1] at the classifier's input size, over ``model_view(image)`` (the object
    crop when the card focuses), and the class it explains."""
    return _saliency(clf, model_view(image, clf.card), target)


def _saliency(clf: LoadedClassifier, view: Image.Image, target: int | None) -> tuple[np.ndarray, int]:
    """``saliency_map`` of a photo already framed as the classifier sees it."""
    x = preprocess([view], clf.card).to(clf.device).requires_grad_(True)
    clf.model.eval()
    with torch.enable_grad():
        logits = clf.model(x)
        cls = int(logits.argmax(1)) if target is None else int(target)
        logits[0, cls].backward()
    assert x.grad is not None
    sal = x.grad.detach().abs().amax(dim=1)[0].cpu().numpy()
    peak = float(sal.max())
    return (sal / peak if peak > 0 else sal).astype(np.float32), cls


def overlay(image: Image.Image, saliency: np.ndarray, alpha: float = 0.55) -> Image.Image:
    """The photo (resized to the map) with the saliency as a 'jet' heat map on top."""
    from matplotlib import colormaps

    h, w = saliency.shape
    heat = Image.fromarray((saliency * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(2))
    s = np.asarray(heat, dtype=np.float32) / 255.0
    s = s / s.max() if s.max() > 0 else s
    coloured = (colormaps["jet"](s)[..., :3] * 255).astype(np.uint8)
    base = np.asarray(image.convert("RGB").resize((w, h), Image.Resampling.BILINEAR), dtype=np.float32)
    weight = alpha * s[..., None]  # strong saliency shows the heat colour, weak keeps the photo
    mixed = base * (1 - weight) + coloured.astype(np.float32) * weight
    return Image.fromarray(np.clip(mixed, 0, 255).astype(np.uint8))


def saliency_overlay(clf: LoadedClassifier, image: Image.Image, target: int | None = None) -> Image.Image:
    """The heat map over the part of ``image`` the classifier looked at (its object crop when it focuses)."""
    return _overlay_view(clf, model_view(image, clf.card), target)


def _overlay_view(clf: LoadedClassifier, view: Image.Image, target: int | None) -> Image.Image:
    sal, _cls = _saliency(clf, view, target)
    return overlay(view, sal)


def save_saliency(clf: LoadedClassifier, image: Image.Image, out: str | Path, target: int | None = None) -> Path:
    """Write photo | overlay side by side as a PNG (the part the classifier looked at); returns the path."""
    view = model_view(image, clf.card)  # framed once: the object crop is found once, not per use
    over = _overlay_view(clf, view, target)
    w, h = over.size
    canvas = Image.new("RGB", (2 * w, h))
    canvas.paste(view.convert("RGB").resize((w, h), Image.Resampling.BILINEAR), (0, 0))
    canvas.paste(over, (w, 0))
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path, "PNG")
    return path
