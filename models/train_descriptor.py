"""Triplet training of a retrieval descriptor (PAN or a baseline) on photos grouped by object.

Batches are P objects x K photos; part of each object's photos stay studio-clean (as gallery
photos are) and the rest are re-staged as listing photos (``models.augment``), so positives pair a
gallery-like view with a listing-like one. Online mining (batch-hard or semi-hard), margin 0.3,
Adam 5e-4 on the head (the unfrozen backbone stages at a tenth of it), 224 px: the paper's
defaults, all overridable. A checkpoint (with card) is written every epoch; ``resume`` continues.

Model selection (``models.validation``): ``val_objects`` whole objects (default a fifth, 4 of 20;
none below 10 objects) are held out of training and turned into a small retrieval benchmark scored
after every epoch (AP, R@P95, FP@R90). ``out`` holds the best epoch by that score, not the last
one (triplet training overfits within a few epochs); the card records the chosen epoch and every
epoch's validation numbers. ``retrain_all`` then trains a fresh model on all objects for the chosen
number of epochs and writes that to ``out`` instead (the card says so). No benchmark is ever used.

Speed on a 2-core CPU (lite0, 32 images/step, measured): freezing the stem and the first four block
stages, channels_last and bf16 autocast bring a training step from 1.16 s to 0.53 s at 224 px
(0.29 s at 160 px) on a CPU with native bf16 (AMX). On an AVX2-only CPU bf16 is emulated and 11x
slower than fp32, so ``bf16=None`` (default) turns it on only where the CPU has it (:mod:`models.cpu`).
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lootwatch.models.augment import centre_mark, listing_style
from lootwatch.models.cpu import native_bf16
from lootwatch.models.descriptor import Descriptor, build_descriptor, new_card, preprocess, save_checkpoint
from lootwatch.models.errors import ModelError
from lootwatch.models.training_data import TrainingSet, read_training_sets
from lootwatch.models.triplet import MINERS
from lootwatch.models.validation import (
    METRIC_KEYS,
    auto_val_objects,
    build_validation_set,
    evaluate_descriptor,
    rounded,
    selection_score,
    split_objects,
    split_stratified,
)
from PIL import Image

from lootwatch.core.files import atomic_write

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    arch: str = "pan"
    backbone: str = "lite0"
    epochs: int = 10
    objects_per_batch: int = 8  # P
    photos_per_object: int = 4  # K
    clean_per_object: int = 2  # of the K, left studio-clean (gallery-like)
    view_window: int | None = None  # positives within +-N neighbours in sorted order (turntable views)
    same_category: int = 2  # objects of one category drawn together: same-category hard negatives
    centre_mark: float = 0.25  # chance a training photo gets a portal mark across its centre
    max_side: int = 320  # photos are kept in memory at most this long side (bounded memory)
    val_distractors: bool = True  # training objects' gallery views join the validation gallery
    val_folds: int | None = 3  # held-out objects unprotected in turn: 3 groups (None: one at a time)
    steps_per_epoch: int | None = None  # default: images // (P * K)
    margin: float = 0.3
    mining: str = "batch-hard"
    lr: float = 5e-4
    backbone_lr_scale: float = 0.1
    weight_decay: float = 0.0
    input_size: int = 224
    dim: int = 512
    freeze_stages: int = 5  # lite0: stem + block stages 0-3
    bf16: bool | None = None  # None: where the CPU has native bf16 (models.cpu)
    channels_last: bool = True
    threads: int | None = 2
    seed: int = 0
    half_checkpoint: bool = True
    name: str | None = None
    val_objects: int | None = None  # whole objects held out for selection; None: auto, 0: none
    val_seed: int = 0
    retrain_all: bool = False  # after selection, retrain on every object for the chosen epochs

    def check(self) -> None:
        if self.mining not in MINERS:
            raise ModelError(f"unknown mining {self.mining!r}; choose {', '.join(MINERS)}")
        if self.epochs < 1 or self.objects_per_batch < 2 or self.photos_per_object < 2:
            raise ModelError("need epochs >= 1, at least 2 objects per batch and 2 photos per object")
        if not 0 <= self.clean_per_object <= self.photos_per_object:
            raise ModelError("clean_per_object must be between 0 and photos_per_object")
        if self.input_size < 32:
            raise ModelError("input_size must be at least 32 px")


# settings a resumed run must share with the run it continues
RESUME_KEYS = ("arch", "backbone", "input_size", "dim", "freeze_stages", "val_objects", "val_seed")


def train_descriptor(
    images_path: Path | str | list[Path] | list[str],
    out_path: Path | str,
    arch: str = "pan",
    backbone: str = "lite0",
    epochs: int = 10,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    max_minutes: float | None = None,
    on_epoch: Callable[[int, Descriptor], None] | None = None,
    **options: Any,
) -> Path:
    """Train a descriptor on ``images_path`` (one source or a list, see
    :func:`models.training_data.read_training_sets`) and write the checkpoint ``out_path``; returns it.

    ``options`` are :class:`TrainConfig` fields. ``max_minutes`` stops after the epoch that
    crosses it (the checkpoint is complete and resumable). ``on_epoch(epoch, model)`` runs after
    each saved epoch (e.g. a quick evaluation).
    """
    unknown = set(options) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise ModelError(f"unknown training option(s): {', '.join(sorted(unknown))}")
    cfg = TrainConfig(arch=arch, backbone=backbone, epochs=epochs, **options)
    cfg.check()
    if cfg.bf16 is None:
        cfg.bf16 = native_bf16()
        log.info("bf16 autocast %s (native bf16 on this CPU: %s)", "on" if cfg.bf16 else "off", cfg.bf16)
    out = Path(out_path)
    state_path = out.with_name(out.stem + ".state.pt")
    if out.exists() and not (resume or overwrite):
        raise ModelError(
            f"{out} exists: resume (--resume) continues its training, overwrite (--overwrite) starts again"
        )
    sources = [Path(p) for p in images_path] if isinstance(images_path, list) else [Path(images_path)]
    data = read_training_sets(sources)
    for obj in data.single_photo:
        log.warning("object %s has fewer than two photos: no positive pair, left out", obj)
    if cfg.val_objects is None:
        cfg.val_objects = auto_val_objects(len(data.objects))
    train_objects, held_out = list(data.objects), list[str]()
    if cfg.val_objects:
        if len(set(data.categories.values())) > 1:
            train_objects, held_out = split_stratified(data.categories, cfg.val_objects, cfg.val_seed)
        else:
            train_objects, held_out = split_objects(list(data.objects), cfg.val_objects, cfg.val_seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)  # the projection's initial weights

    card = new_card(
        cfg.arch, cfg.backbone, name=cfg.name, dim=cfg.dim or None, input_size=(cfg.input_size, cfg.input_size)
    )
    card.training_data_sha256 = data.sha256
    model = build_descriptor(card, pretrained=not (resume and state_path.exists()))
    model.trunk.freeze(cfg.freeze_stages)
    optimizer = optimizer_for(model, cfg)
    start, history, best = 0, [], None
    if resume and state_path.exists():
        state = _restore(state_path, model, optimizer, cfg, data)
        start, history, best = int(state["epoch"]), list(state.get("history", [])), state.get("best")
    elif resume:
        log.warning("no training state at %s: starting from epoch 1", state_path)
    if start >= cfg.epochs:
        log.warning("%s already trained for %d epochs", out, start)
        return out

    images = {obj: [_load(p, cfg.max_side) for p in data.objects[obj]] for obj in train_objects}
    categories = {obj: data.categories.get(obj, "") for obj in train_objects}
    n_images = sum(len(v) for v in images.values())
    vset = None
    if held_out:
        vset = build_validation_set(
            {o: data.objects[o] for o in held_out},
            distractors={o: data.objects[o] for o in train_objects} if cfg.val_distractors else None,
            seed=cfg.val_seed,
            kinds=data.kinds,
            max_queries=8,
        )
        log.info(
            "validation: %s held out (%d gallery, %d listing photos)",
            ", ".join(held_out),
            len(vset.gallery),
            len(vset.queries),
        )
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    loss_fn = MINERS[cfg.mining]
    if vset is not None and start == 0:
        # epoch 0, the starting weights: training must beat them to be chosen (else they are what ships)
        model.eval()
        scores = evaluate_descriptor(model, vset, cfg.val_folds)
        history.append(
            {
                "epoch": 0,
                "loss": None,
                "score": round(selection_score(scores), 4),
                **rounded({k: scores[k] for k in METRIC_KEYS}),
            }
        )
        best = {**history[-1], "folds": rounded(scores["folds"])}
        log.info("epoch 0 (starting weights) validation %s", history[-1])
        save_checkpoint(
            model,
            out,
            half=cfg.half_checkpoint,
            training={k: v for k, v in dataclasses.asdict(cfg).items() if k != "threads"},
            epochs_done=0,
            objects=len(train_objects),
            images=n_images,
            left_out_objects=data.single_photo,
            **_validation_extra(held_out, history, best, cfg),
        )
    steps = cfg.steps_per_epoch or max(1, n_images // (cfg.objects_per_batch * cfg.photos_per_object))
    began = time.monotonic()
    for epoch in range(start, cfg.epochs):
        rng = random.Random(cfg.seed * 100_003 + epoch)  # per-epoch seed: a resumed run sees the same batches
        model.train()
        mean_loss = _epoch(model, optimizer, loss_fn, images, cfg, steps, rng, epoch, progress, categories)
        improved = True
        if vset is not None:
            model.eval()
            scores = evaluate_descriptor(model, vset, cfg.val_folds)
            row = {
                "epoch": epoch + 1,
                "loss": round(mean_loss, 5),
                "score": round(selection_score(scores), 4),
            }
            history.append({**row, **rounded({k: scores[k] for k in METRIC_KEYS})})
            improved = best is None or row["score"] > best["score"]
            if improved:
                best = {**history[-1], "folds": rounded(scores["folds"])}
            log.info("epoch %d validation %s%s", epoch + 1, history[-1], " (best)" if improved else "")
        validation = _validation_extra(held_out, history, best, cfg)
        if improved:
            extra = {
                "training": {k: v for k, v in dataclasses.asdict(cfg).items() if k != "threads"},
                "epochs_done": epoch + 1,
                "last_loss": round(mean_loss, 5),
                "objects": len(train_objects),
                "images": n_images,
                "left_out_objects": data.single_photo,
                **validation,
            }
            save_checkpoint(model, out, half=cfg.half_checkpoint, **extra)
        else:  # keep the best epoch's weights; only its card learns the newer epochs' numbers
            update_card(out, epochs_trained=epoch + 1, **validation)
        torch.save(
            {
                "config": dataclasses.asdict(cfg),
                "epoch": epoch + 1,
                "data_sha256": data.sha256,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "history": history,
                "best": best,
            },
            state_path,
        )
        log.info("epoch %d/%d loss %.4f -> %s", epoch + 1, cfg.epochs, mean_loss, out)
        if on_epoch is not None:
            model.eval()
            on_epoch(epoch + 1, model)
        if max_minutes is not None and time.monotonic() - began > max_minutes * 60:
            used = (time.monotonic() - began) / 60
            log.warning("stopping after epoch %d: %.1f minutes used", epoch + 1, used)
            break
    if cfg.retrain_all and best is not None and int(best["epoch"]) > 0:
        _retrain_on_all(images_path, out, cfg, int(best["epoch"]), progress, held_out, history, best)
    return out


def options_from_card(card: Any) -> tuple[str, str, int, dict[str, Any]]:
    """(arch, backbone, epochs, other TrainConfig options) that retrain the model a card describes:
    its recorded training settings, for the epoch count validation chose (else the epochs it ran)."""
    training = dict((card.extra or {}).get("training") or {})
    if not training:
        raise ModelError(f"card {card.name} records no training settings: it was not trained by lootwatch")
    validation = (card.extra or {}).get("validation") or {}
    chosen = validation.get("chosen_epoch")
    if chosen == 0:
        raise ModelError(f"validation chose {card.name}'s starting weights (epoch 0): there is nothing to retrain")
    epochs = int(chosen or card.extra.get("epochs_done") or training.get("epochs") or 1)
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    options = {k: v for k, v in training.items() if k in known and k not in ("arch", "backbone", "epochs", "threads")}
    options["bf16"] = None  # decided for the CPU at hand, not the one that trained it
    return str(training.get("arch", card.arch)), str(training.get("backbone", "lite0")), epochs, options


def _load(path: Path, max_side: int | None = None) -> Image.Image:
    with Image.open(path) as src:
        img = src.convert("RGB")
    if max_side and max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return img


def optimizer_for(model: Descriptor, cfg: TrainConfig) -> torch.optim.Optimizer:
    backbone = [p for p in model.trunk.parameters() if p.requires_grad]
    head = [p for n, p in model.named_parameters() if not n.startswith("trunk.") and p.requires_grad]
    groups = [{"params": head, "lr": cfg.lr}]
    if backbone:
        groups.append({"params": backbone, "lr": cfg.lr * cfg.backbone_lr_scale})
    return torch.optim.Adam(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _validation_extra(
    held_out: list[str], history: list[dict[str, Any]], best: dict[str, Any] | None, cfg: TrainConfig
) -> dict[str, Any]:
    if not held_out:
        return {"validation": None}
    return {
        "validation": {
            "held_out_objects": held_out,
            "seed": cfg.val_seed,
            "selection": (
                "AP + R@P95 - FP@R90, mean over folds in which held-out objects are unprotected in turn "
                f"({'one at a time' if cfg.val_folds is None else f'{cfg.val_folds} groups'}; models.validation)"
            ),
            "chosen_epoch": best["epoch"] if best else None,
            "chosen": best,
            "epochs": history,
        }
    }


def update_card(path: Path, **extra: Any) -> None:  # also used to add a measured score prior
    """Rewrite the card of the checkpoint at ``path`` (weights untouched, so their hash still holds)."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    blob["card"].setdefault("extra", {}).update(extra)
    atomic_write(path, lambda fh: torch.save(blob, fh))


def _retrain_on_all(
    images_path: Path | str | list[Path] | list[str],
    out: Path,
    cfg: TrainConfig,
    epochs: int,
    progress: bool,
    held_out: list[str],
    history: list[dict[str, Any]],
    best: dict[str, Any],
) -> None:
    """A fresh run on every object (held-out ones included) for the epochs validation chose."""
    options = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("arch", "backbone", "epochs")}
    options.update(val_objects=0, retrain_all=False)
    full = out.with_name(out.stem + ".all.pt")
    log.info("retraining on all objects for %d epoch(s) (chosen by validation)", epochs)
    train_descriptor(images_path, full, cfg.arch, cfg.backbone, epochs, overwrite=True, progress=progress, **options)
    update_card(
        full,
        retrained_on_all_objects=True,
        **_validation_extra(held_out, history, best, cfg),
    )
    full.replace(out)
    full.with_name(full.stem + ".state.pt").unlink(missing_ok=True)


def _restore(
    state_path: Path, model: Descriptor, optimizer: torch.optim.Optimizer, cfg: TrainConfig, data: TrainingSet
) -> dict[str, Any]:
    try:
        state = torch.load(state_path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(f"cannot resume: {state_path} is unreadable ({exc})") from exc
    before = state.get("config", {})
    changed = [k for k in RESUME_KEYS if before.get(k) != getattr(cfg, k)]
    if changed:
        raise ModelError(f"cannot resume {state_path}: settings changed ({', '.join(changed)})")
    if state.get("data_sha256") != data.sha256:
        raise ModelError(f"cannot resume {state_path}: training photos differ from the first run")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return dict(state)


def choose_objects(
    objects: list[str], categories: dict[str, str] | None, p: int, same: int, rng: random.Random
) -> list[str]:
    """``p`` distinct objects, drawn in groups of up to ``same`` from one category (an anchor object
    drawn uniformly, then mates of its category), so every batch holds same-category negatives: a
    bronze must be told from other bronzes, not only from a jade."""
    if not categories or same <= 1:
        return rng.sample(objects, min(p, len(objects)))
    by_cat: dict[str, list[str]] = {}
    for obj in objects:
        by_cat.setdefault(categories.get(obj, ""), []).append(obj)
    chosen: list[str] = []
    taken: set[str] = set()
    while len(chosen) < min(p, len(objects)):
        anchor = rng.choice([o for o in objects if o not in taken])
        mates = [o for o in by_cat[categories.get(anchor, "")] if o not in taken and o != anchor]
        group = [anchor] + rng.sample(mates, min(same - 1, len(mates), p - len(chosen) - 1))
        chosen += group
        taken.update(group)
    return chosen


def sample_batch(
    images: dict[str, list[Image.Image]],
    cfg: TrainConfig,
    rng: random.Random,
    categories: dict[str, str] | None = None,
) -> tuple[list[Image.Image], list[int]]:
    """P objects x K photos; the first ``clean_per_object`` of each stay clean, the rest re-staged.
    With ``categories``, objects come in same-category groups (:func:`choose_objects`)."""
    objects = sorted(images)
    chosen = choose_objects(objects, categories, cfg.objects_per_batch, cfg.same_category, rng)
    batch: list[Image.Image] = []
    labels: list[int] = []
    for obj in chosen:
        photos = images[obj]
        picks = _pick_views(len(photos), cfg.photos_per_object, cfg.view_window, rng)
        for j, idx in enumerate(picks):
            img = photos[idx]
            if j < cfg.clean_per_object:
                batch.append(centre_mark(img, rng) if rng.random() < cfg.centre_mark else img)
            else:
                batch.append(listing_style(img, rng, centre_mark_p=cfg.centre_mark))
            labels.append(objects.index(obj))
    return batch, labels


def _pick_views(n: int, k: int, window: int | None, rng: random.Random) -> list[int]:
    if window is None or 2 * window + 1 >= n:
        pool = list(range(n))
    else:  # neighbouring views of a turntable series (wrapping around)
        centre = rng.randrange(n)
        pool = [(centre + d) % n for d in range(-window, window + 1)]
    if len(pool) >= k:
        return rng.sample(pool, k)
    return [rng.choice(pool) for _ in range(k)]  # fewer photos than K: repeat (augmented differently)


def _epoch(
    model: Descriptor,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[..., torch.Tensor],
    images: dict[str, list[Image.Image]],
    cfg: TrainConfig,
    steps: int,
    rng: random.Random,
    epoch: int,
    progress: bool,
    categories: dict[str, str] | None = None,
) -> float:
    from tqdm import tqdm

    bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="step", disable=not progress)
    total = 0.0
    for _ in bar:
        loss = train_step(model, optimizer, loss_fn, *sample_batch(images, cfg, rng, categories), cfg)
        total += loss
        bar.set_postfix(loss=f"{loss:.4f}")
    return total / steps


def train_step(
    model: Descriptor,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[..., torch.Tensor],
    batch: list[Image.Image],
    labels: list[int],
    cfg: TrainConfig,
) -> float:
    """One triplet step on a P x K batch; returns its loss."""
    x = preprocess(batch, model.card)
    if cfg.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(cfg.bf16)):
        features = model.head(model.trunk(x))
    emb = torch.nn.functional.normalize(model.proj(features.float()), dim=1)
    loss = loss_fn(emb, torch.tensor(labels), cfg.margin)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())
