"""``lootwatch train classifier``: the artefact instance classifier, trained on a gallery."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from lootwatch.cli.context import running
from lootwatch.core.errors import BadInputError
from lootwatch.core.storage import BlobStore
from lootwatch.models.classifier_data import read_gallery
from lootwatch.models.focus import FOCUS_MODES

if TYPE_CHECKING:
    from lootwatch.models.classifier_data import GalleryPhoto


def classifier_cmd(
    gallery: str = typer.Option(
        ...,
        "--gallery",
        help="'db' (the gallery in Postgres: artefacts still watched, their stored photos), a benchmark "
        "gallery.csv (image,artefact_id,collection) or a folder per artefact.",
    ),
    out: Path = typer.Option(..., "--out", help="Checkpoint to write (.pt: card, state_dict, classes)."),
    backbone: str = typer.Option(
        "tf_efficientnet_lite0",
        "--backbone",
        help="tf_efficientnet_lite0/1/2 (offline ImageNet weights), efficientnet_b0..b7, resnetrs*, "
        "inception_v3/v4 (timm hub weights: need internet).",
    ),
    min_images: int = typer.Option(
        1,
        "--min-images",
        min=1,
        max=6,
        help="Keep artefacts with at least N photos (default 1: every artefact, a single photo trains on its "
        "re-staged views; the paper used 3..6). Artefacts left out are matched by the descriptor alone.",
    ),
    epochs: int = typer.Option(40, "--epochs", min=1, help="Most epochs (early stopping on validation)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the interrupted run that was writing --out."),
    negatives: Path | None = typer.Option(
        None,
        "--negatives",
        help="Folder of object folders NOT in the gallery (e.g. coil100-train): outlier exposure for "
        "open-set rejection. Never listing photos.",
    ),
    input_size: int | None = typer.Option(None, "--input-size", help="Square input px (default: the paper's)."),
    trainable_stages: int = typer.Option(
        0,
        "--trainable-stages",
        min=0,
        help="Last backbone stages trained (0: frozen trunk; measured best on bench-coil-dev validation).",
    ),
    focus: str = typer.Option(
        "object",
        "--focus",
        help="object: crop every photo to its object before the model sees it (training and matching; "
        "see models/focus.py); none: whole photos.",
    ),
    views: int = typer.Option(12, "--views", min=0, help="Listing-style augmented views per training photo."),
    lr: float = typer.Option(1e-3, "--lr", help="Adam learning rate of the head (trunk stages: lr/10)."),
    pretrained: bool = typer.Option(True, "--pretrained/--no-pretrained", help="Start from ImageNet weights."),
    threads: int = typer.Option(2, "--threads", min=1, help="torch CPU threads."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Train the instance classifier (paper head, weighted NLL) and write checkpoint + card."""
    if focus not in FOCUS_MODES:
        raise BadInputError(f"--focus {focus!r}: use {' or '.join(reversed(FOCUS_MODES))}")
    import torch  # heavy import

    from lootwatch.models.classifier_train import TrainConfig, train_classifier  # heavy import: torch

    torch.set_num_threads(threads)
    if out.exists() and not resume:
        typer.secho(f"{out} exists: it will be replaced when training ends", fg=typer.colors.YELLOW)
    cfg = TrainConfig(
        backbone=backbone,
        pretrained=pretrained,
        input_size=(input_size, input_size) if input_size else None,
        min_images=min_images,
        trainable_stages=trainable_stages,
        views_per_photo=views,
        focus=focus,
        epochs=epochs,
        lr=lr,
        negatives=negatives,
        seed=seed,
    )
    result = train_classifier(_photos(gallery), out, cfg, resume=resume, say=typer.echo)
    if result.excluded:
        listed = ", ".join(f"{a} ({n} photos)" for a, n in result.excluded.items())
        typer.secho(f"excluded, fewer than {min_images} photos: {listed}", fg=typer.colors.YELLOW)
    typer.echo(
        f"{len(result.classes)} artefacts; validation accuracy {result.val_accuracy:.3f} "
        f"(best epoch {result.best_epoch}), temperature {result.temperature:.2f}; {result.seconds:.0f} s"
    )


def _photos(gallery: str) -> list[GalleryPhoto]:
    if gallery != "db":
        return read_gallery(gallery)
    from lootwatch.matcher.retrain import training_photos  # heavy import: faiss

    with running() as (s, db, _urls):
        photos = training_photos(db, BlobStore(s.store_dir))
    artefacts = {p.artefact_id for p in photos}
    typer.echo(f"gallery in Postgres: {len(photos)} photos of {len(artefacts)} artefacts")
    return photos


def register_classifier(train_app: typer.Typer) -> None:
    train_app.command("classifier")(classifier_cmd)
