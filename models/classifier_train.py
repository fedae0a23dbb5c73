"""Training the instance classifier on a gallery, fast enough for 2 CPU cores.

Protocol (documented choices, see ``TrainConfig``):

1. Every artefact gets a class by default (``min_images`` 1): one with a single photo learns from that
   photo and its listing-style views, and sits in training only. A larger ``min_images`` excludes
   and lists the others (never silently); the descriptor alone scores them.
2. Photos are split per artefact (``split_per_artefact``): every artefact keeps photos in training;
   with 4 photos per object, 3 train and 1 is held out. Validation = listing-style augmented views
   of the held-out photos (``models.augment.listing_style``), i.e. unseen viewpoints re-staged as a
   seller would, which is what the classifier meets in production.
3. The backbone is frozen except its last ``trainable_stages`` stages. Because the frozen prefix
   never changes, each augmented view goes through it ONCE, streamed batch by batch, and only its
   output is kept -- on disk (``models.classifier_features``), not in memory, so the resident
   memory of a training does not grow with the gallery; epochs only run the trainable tail + head.
   This is what makes CPU training take minutes.
4. Loss: the paper's log-softmax + NLL with inverse-frequency class weights, plus optional outlier
   exposure (Hendrycks et al. 2019): views of objects outside the gallery (``negatives``, e.g.
   coil100-train, never benchmark listings) are pushed towards a uniform softmax, so that the max
   softmax becomes a usable open-set rejection score.
5. Adam, early stopping on validation NLL; then the temperature that minimises validation NLL is
   fitted (calibrated probabilities for fusion); a ``judge`` (``matcher.fusion.fusion_judge``) may
   then decide on these held-out views whether fusion beats the descriptor alone (recorded in the
   card); and the model is refitted on ALL photos for the
   best number of epochs (held-out views are too precious to leave out of the final model).
6. The partial state is saved after every epoch beside the output (``<out>.partial``, with the
   view features in the folder ``<out>.cache``); ``resume=True`` continues from it.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from lootwatch.models.classifier import (
    InstanceClassifier,
    backbone_weights_source,
    build_classifier,
    class_weights,
    classifier_loss,
    default_input_size,
    make_card,
    save_checkpoint,
    to_tensor,
)
from lootwatch.models.classifier_data import (
    DEFAULT_MIN_IMAGES,
    GalleryPhoto,
    TrainingSet,
    describe_exclusions,
    negative_photos,
    read_gallery,
    select_artefacts,
    split_per_artefact,
)
from lootwatch.models.classifier_features import (
    FeatureFile,
    Features,
    iter_views,
    load_manifest,
    save_manifest,
    write_features,
)
from lootwatch.models.errors import ModelError
from lootwatch.models.focus import FOCUS_MODES
from PIL import Image
from tqdm import tqdm

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    backbone: str = "tf_efficientnet_lite0"
    pretrained: bool = True
    input_size: tuple[int, int] | None = None  # None: the paper's size for the backbone
    min_images: int = DEFAULT_MIN_IMAGES
    # Measured on bench-coil-dev's gallery validation (held-out views; 2 shared CPU cores):
    # frozen trunk, 160 px, 12 views: val NLL 0.591, accuracy 0.847, 53 s end to end;
    # frozen, 224 px, 24 views: NLL 0.616, accuracy 0.835, 621 s (busy machine);
    # last stage trained, 160 px, 24 views: NLL 0.69-0.71 by epoch 8 at up to 52 s/epoch (stopped).
    # Full fine-tuning at the paper's lr 1.6e-5 does not fit 20 minutes.
    trainable_stages: int = 0
    # "object": every photo (training views, held-out views, listings) is cropped to its object first
    # (models.focus), so less of a backdrop's colour passes for the object's. On bench-coil-dev's
    # gallery validation (Lite0, 160 px, 12 views): val NLL 0.591 -> 0.513; "none" is the paper's framing.
    focus: str = "object"
    views_per_photo: int = 12  # listing-style views per training photo (plus the photo itself)
    val_views_per_photo: int = 8
    val_fraction: float = 0.25
    epochs: int = 40
    batch_size: int = 32  # paper: 32
    lr: float = 1e-3  # head; the trainable trunk stages get lr * 0.1 (paper: 1.6e-5 end to end)
    weight_decay: float = 1e-4
    patience: int = 6
    negatives: Path | None = None  # folder of object folders not in the gallery (outlier exposure)
    negatives_per_object: int = 12
    outlier_weight: float = 0.5
    refit: bool = True
    seed: int = 0
    name: str | None = None

    def resolved_input_size(self) -> tuple[int, int]:
        return self.input_size or default_input_size(self.backbone)

    @staticmethod
    def recorded(cfg: TrainConfig | dict[str, Any] | None) -> dict[str, Any]:
        """The config as the card records it (JSON types), to compare two trainings."""
        d = asdict(cfg) if isinstance(cfg, TrainConfig) else dict(cfg or {})
        return dict(json.loads(json.dumps(d, default=str)))


def benchmark_config(**overrides: Any) -> TrainConfig:
    """The settings `lootwatch eval --train-classifier` and the retraining job use.

    160 px: the benchmark's gallery photos are 128 px, and 160 px is about 2x faster than 224.
    """
    return TrainConfig(**{"input_size": (160, 160), **overrides})


@dataclass
class TrainResult:
    checkpoint: Path
    classes: list[str]
    excluded: dict[str, int]
    best_epoch: int
    epochs_run: int
    val_accuracy: float
    val_nll: float
    temperature: float
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    fusion_check: dict[str, Any] | None = None


@dataclass
class HeldOut:
    """The phase-1 model's view of photos it never trained on, for deciding whether fusion helps.

    ``probs`` (n, C): its temperature-calibrated softmax on the listing-style views of the held-out
    photos ``val`` (``views_per_photo`` each, photo by photo; ``labels`` their class index in
    ``classes``). ``images()`` re-makes exactly those views (deterministic, see
    ``models.classifier_features.view_rng``), so the descriptor can be scored on the same queries
    with a gallery of the ``train`` photos only.
    """

    classes: list[str]
    train: list[GalleryPhoto]
    val: list[GalleryPhoto]
    views_per_photo: int
    seed: int
    labels: np.ndarray
    probs: np.ndarray

    def images(self) -> Iterator[Image.Image]:
        return iter_views(self.val, self.views_per_photo, self.seed, keep_original=False)


Say = Callable[[str], None]
Judge = Callable[[HeldOut], dict[str, Any]]


def train_classifier(
    gallery: str | Path | Sequence[GalleryPhoto],
    out: str | Path,
    config: TrainConfig | None = None,
    *,
    resume: bool = False,
    say: Say = log.info,
    progress: bool = True,
    judge: Judge | None = None,
) -> TrainResult:
    """Train on ``gallery`` (gallery.csv, a folder per artefact, or photos already listed, e.g. from
    the Postgres gallery), write the checkpoint ``out``.

    ``judge``: given the phase-1 model's held-out views (``HeldOut``), decides whether fusing this
    classifier with the descriptor helps (``matcher.fusion.fusion_judge``); its answer is recorded
    in the card (``extra["fusion_check"]``) and the result."""
    cfg = config or TrainConfig()
    if cfg.focus not in FOCUS_MODES:
        raise ModelError(f"focus must be one of {', '.join(FOCUS_MODES)}, got {cfg.focus!r}")
    out = Path(out)
    started = time.monotonic()
    photos = read_gallery(gallery) if isinstance(gallery, (str, Path)) else list(gallery)
    ts = select_artefacts(photos, cfg.min_images)
    say(f"{len(ts.classes)} artefacts, {len(ts.photos)} photos; {describe_exclusions(ts, cfg.min_images)}")
    torch.manual_seed(cfg.seed)
    weights = backbone_weights_source(cfg.backbone, cfg.pretrained)
    model = build_classifier(cfg.backbone, len(ts.classes), weights)
    frozen = _freeze(model, cfg.trainable_stages)
    initial = {k: v.clone() for k, v in model.state_dict().items()}  # the refit starts from here too
    size = cfg.resolved_input_size()
    card_probe = make_card(
        model,
        name="probe",
        backbone=cfg.backbone,
        backbone_weights=weights,
        n_classes=len(ts.classes),
        input_size=size,
        extra={"focus": cfg.focus},
    )

    folder = out.with_name(out.name + ".cache")
    folder.mkdir(parents=True, exist_ok=True)  # a fresh data dir has no checkpoints/ yet
    key = _cache_key(cfg, ts)
    cached = load_manifest(folder, key) if resume else None
    if cached is None:
        files, labels = _build_features(model, card_probe, ts, cfg, frozen, folder, progress)
        save_manifest(folder, key, files, labels)
    else:
        files, labels = cached
        say(f"resuming with cached view features from {folder}")
    train_x, val_x = Features([files["train"]]), Features([files["val"]])
    neg_x = Features([files["neg"]]) if "neg" in files else Features([])
    train_y = torch.tensor(labels["train"], dtype=torch.long)
    val_y = torch.tensor(labels["val"], dtype=torch.long)

    weights_t = class_weights(ts.counts)
    partial = out.with_name(out.name + ".partial")
    state = _load_partial(partial) if resume else None

    # Phase 1: train on the split, early-stop and calibrate on held-out views.
    phase1 = _fit(
        model,
        (train_x, train_y, val_x, val_y, neg_x),
        weights_t,
        cfg,
        frozen,
        phase="select",
        partial=partial,
        state=state,
        max_epochs=cfg.epochs,
        progress=progress,
    )
    temperature = _fit_temperature(model, val_x, val_y, frozen)
    val_acc, val_nll = _evaluate(model, val_x, val_y, frozen, temperature)
    say(
        f"validation: best epoch {phase1['best_epoch']}, accuracy {val_acc:.3f}, NLL {val_nll:.3f}, "
        f"temperature {temperature:.2f}"
    )
    fusion_check: dict[str, Any] | None = None
    if judge is not None and len(val_x):
        split = split_per_artefact(ts.photos, cfg.val_fraction, cfg.seed)
        probs = torch.softmax(tail_logits(model, val_x, frozen) / temperature, dim=1).numpy()
        held = HeldOut(ts.classes, split.train, split.val, cfg.val_views_per_photo, cfg.seed, val_y.numpy(), probs)
        fusion_check = judge(held)
        say(f"fusion check on held-out views: {fusion_check.get('use')} ({fusion_check.get('reason', '')})")

    # Phase 2: refit on every photo (train + held-out) for the selected number of epochs.
    if cfg.refit and len(val_x):
        model.load_state_dict(initial)  # same frozen prefix as the cached activations
        _fit(
            model,
            (Features([files["train"], files["val"]]), torch.cat([train_y, val_y]), Features([]), val_y[:0], neg_x),
            weights_t,
            cfg,
            frozen,
            phase="refit",
            partial=partial,
            state=None,
            max_epochs=max(1, phase1["best_epoch"]),
            progress=progress,
        )

    extra: dict[str, Any] = {
        "focus": cfg.focus,
        "temperature": temperature,
        "collections": ts.collection_of(),
        "photo_counts": dict(zip(ts.classes, ts.counts, strict=True)),
        "excluded": ts.excluded,
        "min_images": cfg.min_images,
        "trainable_stages": cfg.trainable_stages,
        "val_accuracy": val_acc,
        "val_nll": val_nll,
        "best_epoch": phase1["best_epoch"],
        "negatives": str(cfg.negatives) if cfg.negatives else None,
        "config": TrainConfig.recorded(cfg),
        "protocol": "per-artefact split, listing-style augmented held-out views, early stop on val NLL, "
        "temperature fitted on val, refit on all photos",
        "fusion_check": fusion_check,
    }
    card = make_card(
        model,
        name=cfg.name or f"classifier-{cfg.backbone}",
        backbone=cfg.backbone,
        backbone_weights=weights,
        n_classes=len(ts.classes),
        input_size=size,
        training_data_sha256=ts.sha256(),
        extra=extra,
    )
    model.eval()
    save_checkpoint(out, model, card, ts.classes)
    partial.unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)
    seconds = time.monotonic() - started
    say(f"wrote {out} ({card.version}) in {seconds:.0f} s")
    return TrainResult(
        out,
        ts.classes,
        ts.excluded,
        int(phase1["best_epoch"]),
        int(phase1["epochs_run"]),
        val_acc,
        val_nll,
        temperature,
        seconds,
        phase1["history"],
        fusion_check,
    )


# --- model surgery ----------------------------------------------------------------------------


def _freeze(model: InstanceClassifier, trainable_stages: int) -> int:
    """Freeze all trunk stages but the last ``trainable_stages``; return the frozen count."""
    n = len(model.trunk.stages)
    if not 0 <= trainable_stages <= n:
        raise ModelError(f"trainable_stages must be within 0..{n} for {n}-stage backbone")
    frozen = n - trainable_stages
    model.trunk.freeze(frozen)
    return frozen


@torch.no_grad()
def _prefix(model: InstanceClassifier, x: torch.Tensor, frozen: int) -> torch.Tensor:
    for stage in list(model.trunk.stages)[:frozen]:
        x = stage(x)
    return x


def forward_tail(model: InstanceClassifier, x: torch.Tensor, frozen: int) -> torch.Tensor:
    """Logits from cached prefix activations (the trainable stages, pooling, head)."""
    for stage in list(model.trunk.stages)[frozen:]:
        x = stage(x)
    return model.head(x.mean(dim=(2, 3)) if x.dim() == 4 else x)


def _pool_if_done(x: torch.Tensor, frozen: int, n_stages: int) -> torch.Tensor:
    # A fully frozen trunk: cache the pooled vector, not the feature map (25-50x smaller).
    return x.mean(dim=(2, 3)) if frozen == n_stages else x


# --- the view features -------------------------------------------------------------------------


def _encoder(model: InstanceClassifier, card: Any, frozen: int) -> Callable[[list[Image.Image]], torch.Tensor]:
    n_stages = len(model.trunk.stages)

    def encode(images: list[Image.Image]) -> torch.Tensor:
        model.eval()
        return _pool_if_done(_prefix(model, to_tensor(images, card), frozen), frozen, n_stages)

    return encode


def _build_features(
    model: InstanceClassifier, card: Any, ts: TrainingSet, cfg: TrainConfig, frozen: int, folder: Path, progress: bool
) -> tuple[dict[str, FeatureFile], dict[str, list[int]]]:
    """Every training, held-out and negative view, streamed through the frozen trunk into ``folder``."""
    split = split_per_artefact(ts.photos, cfg.val_fraction, cfg.seed)
    index = {a: i for i, a in enumerate(ts.classes)}
    encode = _encoder(model, card, frozen)
    plan: list[tuple[str, Sequence[GalleryPhoto | Path], int, bool]] = [
        ("train", split.train, cfg.views_per_photo, True),
        ("val", split.val, cfg.val_views_per_photo, False),
    ]
    if cfg.negatives is not None and cfg.outlier_weight > 0:
        plan.append(("neg", negative_photos(cfg.negatives, cfg.negatives_per_object, cfg.seed), 1, False))
    files: dict[str, FeatureFile] = {}
    for name, photos, n, keep in plan:
        total = len(photos) * (n + int(keep))
        with tqdm(total=total, desc=f"{name} views", disable=not progress, leave=False) as bar:

            def tick(rows: int, bar: tqdm = bar) -> None:
                bar.update(rows - bar.n)

            files[name] = write_features(
                folder / f"{name}.f32", iter_views(photos, n, cfg.seed, keep), encode, tick=tick
            )
    labels = {
        "train": [index[p.artefact_id] for p in split.train for _ in range(cfg.views_per_photo + 1)],
        "val": [index[p.artefact_id] for p in split.val for _ in range(cfg.val_views_per_photo)],
    }
    return files, labels


def _cache_key(cfg: TrainConfig, ts: TrainingSet) -> str:
    keep = (
        "backbone",
        "pretrained",
        "input_size",
        "focus",
        "min_images",
        "trainable_stages",
        "views_per_photo",
        "val_views_per_photo",
        "val_fraction",
        "negatives",
        "negatives_per_object",
        "seed",
    )
    d = asdict(cfg)
    photos = sorted(f"{p.artefact_id}:{p.path}" for p in ts.photos)
    return repr([(k, str(d[k])) for k in keep] + [("photos", photos)])


def _load_partial(path: Path) -> dict[str, Any] | None:
    return torch.load(path, weights_only=True) if path.is_file() else None


# --- fitting ----------------------------------------------------------------------------------


Data = tuple[Features, torch.Tensor, Features, torch.Tensor, Features]  # train x, y; val x, y; negatives


def _fit(
    model: InstanceClassifier,
    data: Data,
    weights: torch.Tensor,
    cfg: TrainConfig,
    frozen: int,
    *,
    phase: str,
    partial: Path,
    state: dict[str, Any] | None,
    max_epochs: int,
    progress: bool,
) -> dict[str, Any]:
    head_params = list(model.head.parameters())
    trunk_params = [p for p in model.trunk.parameters() if p.requires_grad]
    groups: list[dict[str, Any]] = [{"params": head_params, "lr": cfg.lr}]
    if trunk_params:
        groups.append({"params": trunk_params, "lr": cfg.lr * 0.1})
    opt = torch.optim.Adam(groups, weight_decay=cfg.weight_decay)
    x, y, val_x, val_y, neg_x = data
    gen = torch.Generator().manual_seed(cfg.seed)
    history: list[dict[str, float]] = []
    best: dict[str, Any] = {"nll": float("inf"), "epoch": 0, "state": None}
    start = 0
    if state is not None and state.get("phase") == phase:
        model.load_state_dict(state["model"], strict=False)
        opt.load_state_dict(state["optimizer"])
        start, history = int(state["epoch"]), list(state["history"])
        best = {
            "nll": float(state["best_nll"]),
            "epoch": int(state["best_epoch"]),
            "state": state["best_model"],
        }
        gen.manual_seed(cfg.seed + start)
    bar = tqdm(
        range(start, max_epochs),
        desc=f"{phase} epochs",
        disable=not progress,
        initial=start,
        total=max_epochs,
    )
    for epoch in bar:
        model.train()
        order = torch.randperm(len(x), generator=gen)
        total, steps = 0.0, 0
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            if len(idx) < 2:  # BatchNorm needs two samples
                continue
            loss = classifier_loss(forward_tail(model, x.take(idx), frozen), y[idx], weights)
            if len(neg_x) and cfg.outlier_weight > 0:
                nidx = torch.randint(len(neg_x), (max(2, cfg.batch_size // 2),), generator=gen)
                neg_logp = F.log_softmax(forward_tail(model, neg_x.take(nidx), frozen), dim=1)
                loss = loss + cfg.outlier_weight * (-neg_logp.mean(dim=1)).mean()  # CE to uniform
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, steps = total + loss.item(), steps + 1
        row: dict[str, float] = {"epoch": epoch + 1, "train_loss": total / max(steps, 1)}
        if phase == "select" and len(val_x):
            acc, nll = _evaluate(model, val_x, val_y, frozen, 1.0)
            row.update(val_accuracy=acc, val_nll=nll)
            if nll < best["nll"] - 1e-4:
                best = {
                    "nll": nll,
                    "epoch": epoch + 1,
                    "state": {k: v.clone() for k, v in _trainable_state(model, frozen).items()},
                }
        history.append(row)
        bar.set_postfix({k: round(v, 3) for k, v in row.items() if k != "epoch"})
        torch.save(
            {
                "phase": phase,
                "epoch": epoch + 1,
                "model": _trainable_state(model, frozen),
                "optimizer": opt.state_dict(),
                "history": history,
                "best_nll": best["nll"],
                "best_epoch": best["epoch"],
                "best_model": best["state"] or {},
            },
            partial,
        )
        if phase == "select" and len(val_x) and epoch + 1 - int(best["epoch"]) >= cfg.patience:
            break
    if phase == "select" and best["state"]:
        model.load_state_dict(best["state"], strict=False)
    epochs_run = len(history)
    return {"best_epoch": int(best["epoch"]) or epochs_run, "epochs_run": epochs_run, "history": history}


def _trainable_state(model: InstanceClassifier, frozen: int) -> dict[str, torch.Tensor]:
    """Head + trainable trunk stages: the frozen prefix never changes, so it is not re-saved."""
    keep = ("head.", *(f"trunk.stages.{i}." for i in range(frozen, len(model.trunk.stages))))
    return {k: v for k, v in model.state_dict().items() if k.startswith(keep)}


@torch.no_grad()
def tail_logits(model: InstanceClassifier, x: Features | torch.Tensor, frozen: int, bs: int = 256) -> torch.Tensor:
    """Logits of cached view features (read back in chunks) or of a tensor of them."""
    model.eval()
    if not len(x):
        return torch.zeros(0, model.head.fc2.out_features)
    chunks = x.chunks(bs) if isinstance(x, Features) else (x[i : i + bs] for i in range(0, len(x), bs))
    return torch.cat([forward_tail(model, c, frozen) for c in chunks])


def _evaluate(
    model: InstanceClassifier, x: Features, y: torch.Tensor, frozen: int, temperature: float
) -> tuple[float, float]:
    if not len(x):
        return float("nan"), float("nan")
    logits = tail_logits(model, x, frozen) / temperature
    acc = float((logits.argmax(1) == y).float().mean())
    return acc, float(F.cross_entropy(logits, y))


def _fit_temperature(model: InstanceClassifier, x: Features, y: torch.Tensor, frozen: int) -> float:
    """Temperature minimising held-out NLL (Guo et al. 2017), searched on a log grid."""
    if not len(x):
        return 1.0
    logits = tail_logits(model, x, frozen)
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 121))
    nll = [float(F.cross_entropy(logits / float(t), y)) for t in grid]
    return float(grid[int(np.argmin(nll))])
