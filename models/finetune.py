"""Fine-tune a trained descriptor on the protected gallery itself.

A deployment knows its gallery (BENCHMARK.md: a model may learn from the gallery photos, never from
listing photos). A descriptor trained on other objects tells new kinds of objects apart poorly; a few
dozen triplet steps on re-staged copies of the gallery photos (``models.augment.listing_style``:
new backdrop, light, scale, crop, JPEG, ...) teach it the protected artefacts' own patterns. Measured on
the demo's painted vessels (the COIL-trained PAN, 24 steps of 8 artefacts x 4 photos): listing-photo AP
0.83 -> 0.95; on bench-coil-dev (22 artefacts): AP 0.945 -> 0.956, top-1 0.960 -> 0.966 (README).
The card records where the weights came from (``extra["fine_tuned"]``) and the gallery's hash as its
training data.

Why the threshold needs care: calibrated the usual way (re-staged gallery photos, the other *gallery*
artefacts as impostors) it comes out too low, because fine-tuning pushes exactly those artefacts apart
(measured on the demo: 0.207, 12 false alerts). ``matcher.tuning`` cross-fits it on artefacts held out
of fine-tuning; that is how ``index build`` and ``eval --fine-tune-gallery`` use this module.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from lootwatch.models.card import state_dict_sha256
from lootwatch.models.cpu import native_bf16
from lootwatch.models.descriptor import Descriptor
from lootwatch.models.errors import ModelError
from lootwatch.models.train_descriptor import TrainConfig, optimizer_for, sample_batch, train_step
from lootwatch.models.triplet import MINERS
from PIL import Image

log = logging.getLogger(__name__)

DEFAULT_LR = 1e-4  # the rate the shipped PAN was trained at: higher rates forget the COIL training


def gallery_hash(photo_hashes: Mapping[str, Sequence[str]]) -> str:
    """sha256 over (artefact, photo sha256) pairs, order-free: the fine-tuning data's identity."""
    h = hashlib.sha256()
    for aid in sorted(photo_hashes):
        for sha in sorted(photo_hashes[aid]):
            h.update(f"{aid}\t{sha}\n".encode())
    return h.hexdigest()


def fine_tune(
    model: Descriptor,
    images: Mapping[str, Sequence[Image.Image]],
    steps: int,
    *,
    lr: float = DEFAULT_LR,
    seed: int = 0,
    data_sha256: str = "",
    progress: Callable[[range], Any] | None = None,
) -> Descriptor:
    """Train ``model`` in place for ``steps`` P x K triplet steps on ``images`` (artefact -> photos).

    One clean photo per artefact in each batch, the others re-staged; the early backbone stages stay
    frozen as in training. Returns the model in eval mode with its card updated (name, data hash).
    """
    usable = {a: list(p) for a, p in images.items() if p}
    if len(usable) < 2:
        raise ModelError(f"fine-tuning needs at least 2 artefacts with photos, got {len(usable)}")
    if steps < 1:
        raise ModelError(f"fine-tuning needs at least one step, got {steps}")
    cfg = TrainConfig(
        arch=model.card.arch,
        objects_per_batch=min(8, len(usable)),
        photos_per_object=4,
        clean_per_object=1,
        lr=lr,
        bf16=native_bf16(),
        seed=seed,
    )
    freeze = int(model.card.extra.get("training", {}).get("freeze_stages", cfg.freeze_stages))
    model.trunk.freeze(freeze)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = optimizer_for(model, cfg)
    loss_fn = MINERS[cfg.mining]
    rng = random.Random(seed)
    model.train()
    losses = []
    for _ in progress(range(steps)) if progress else range(steps):
        losses.append(train_step(model, optimizer, loss_fn, *sample_batch(usable, cfg, rng), cfg))
    model.eval()
    parent = model.card.version
    model.card.name = f"{model.card.name.removesuffix('-gallery')}-gallery"
    model.card.training_data_sha256 = data_sha256
    model.card.weights_sha256 = state_dict_sha256(model.state_dict())  # new weights: the parent's hash no longer holds
    model.card.extra["fine_tuned"] = {
        "from": parent,
        "steps": steps,
        "lr": lr,
        "artefacts": len(usable),
        "photos": sum(len(p) for p in usable.values()),
        "last_loss": round(losses[-1], 5),
    }
    log.info("fine-tuned %s on %d artefacts for %d steps (last loss %.4f)", parent, len(usable), steps, losses[-1])
    return model
