"""``lootwatch train descriptor|...``: train models on local photos."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import typer

from lootwatch.cli.context import settings
from lootwatch.cli.train_classifier import register_classifier
from lootwatch.core.errors import BadInputError
from lootwatch.models.card import ModelCard

train_app = typer.Typer(help="Train descriptors and classifiers.", no_args_is_help=True)

ARCHS = "pan|pan-noatt|pan-single|gem|gem-learn|rmac|spoc|mac|netvlad"


@train_app.command("descriptor")
def descriptor_cmd(
    images: list[Path] = typer.Option(
        ...,
        "--images",
        help="Folder of per-object sub-folders, or a gallery.csv; repeat to combine sources "
        "(object ids then get the source's name).",
    ),
    out: Path = typer.Option(..., "--out", help="Checkpoint to write (.pt); rewritten every epoch."),
    arch: str = typer.Option("pan", "--arch", help=ARCHS),
    backbone: str = typer.Option("lite0", "--backbone", help="lite0|lite1|lite2|mobilenetv2|any timm name."),
    epochs: int = typer.Option(10, "--epochs", min=1),
    resume: bool = typer.Option(False, "--resume", help="Continue the run that wrote --out."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start again even if --out exists."),
    input_size: int = typer.Option(224, "--input-size", help="Training and inference size in px."),
    mining: str = typer.Option("batch-hard", "--mining", help="batch-hard|semi-hard"),
    margin: float = typer.Option(0.3, "--margin"),
    lr: float = typer.Option(5e-4, "--lr"),
    dim: int = typer.Option(512, "--dim", min=0, help="Output size; 0: the pooled size, no projection."),
    view_window: int | None = typer.Option(
        None, "--view-window", help="Positives within +-N neighbouring photos (turntable series)."
    ),
    threads: int = typer.Option(2, "--threads", help="CPU threads for torch."),
    max_minutes: float | None = typer.Option(None, "--max-minutes", help="Stop after the epoch past this."),
    val_objects: int | None = typer.Option(
        None,
        "--val-objects",
        help="Whole objects held out to choose the best epoch (default: a fifth when there are >= 10; 0: none).",
    ),
    val_seed: int = typer.Option(0, "--val-seed", help="Which objects are held out."),
    same_category: int = typer.Option(
        2, "--same-category", min=1, help="Objects of one category drawn together (hard negatives); 1: off."
    ),
    steps_per_epoch: int | None = typer.Option(None, "--steps-per-epoch", min=1, help="Default: photos // batch."),
    freeze_stages: int = typer.Option(5, "--freeze-stages", min=0, help="Backbone stages kept frozen."),
    name: str | None = typer.Option(None, "--name", help="Model name on the card."),
    val_distractors: bool = typer.Option(
        True,
        "--val-distractors/--no-val-distractors",
        help="Training objects' gallery views join the validation gallery (costs an embedding per epoch).",
    ),
    from_card: Path | None = typer.Option(
        None,
        "--from-card",
        help="Retrain the model this checkpoint's card describes (its recorded settings and chosen epoch count; "
        "other options are ignored); --images must be the photos it was trained on (the card's data hash is checked).",
    ),
    retrain_all: bool = typer.Option(
        False, "--retrain-all", help="After choosing the epoch count, train again on every object."
    ),
) -> None:
    """Triplet-train a retrieval descriptor (PAN by default) and write checkpoint + card."""
    from lootwatch.models.descriptor import read_checkpoint  # heavy import: torch
    from lootwatch.models.train_descriptor import train_descriptor  # heavy import: torch

    if from_card is not None:
        _retrain_from_card(from_card, list(images), out, resume=resume, overwrite=overwrite, threads=threads)
        return
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("lootwatch.models").setLevel(logging.INFO)
    path = train_descriptor(
        list(images),
        out,
        arch=arch,
        backbone=backbone,
        epochs=epochs,
        resume=resume,
        overwrite=overwrite,
        max_minutes=max_minutes,
        input_size=input_size,
        mining=mining,
        margin=margin,
        lr=lr,
        dim=dim,
        view_window=view_window,
        threads=threads,
        val_objects=val_objects,
        val_seed=val_seed,
        retrain_all=retrain_all,
        same_category=same_category,
        steps_per_epoch=steps_per_epoch,
        freeze_stages=freeze_stages,
        name=name,
        val_distractors=val_distractors,
    )
    card: ModelCard = read_checkpoint(path)[0]
    if _record_prior(path, list(images)):
        card = read_checkpoint(path)[0]
    left_out = card.extra.get("left_out_objects") or []
    if left_out:
        typer.secho(f"left out (fewer than two photos): {', '.join(left_out)}", fg=typer.colors.YELLOW)
    typer.echo(f"wrote {path} ({card.version}, {card.extra.get('epochs_done')} epochs)")


def _retrain_from_card(card_path: Path, images: list[Path], out: Path, **run: Any) -> None:
    from lootwatch.models.descriptor import read_checkpoint  # heavy import: torch
    from lootwatch.models.train_descriptor import options_from_card, train_descriptor  # heavy import: torch
    from lootwatch.models.training_data import read_training_sets  # heavy import: torch

    card = read_checkpoint(card_path)[0]
    data = read_training_sets(images)
    if card.training_data_sha256 and data.sha256 != card.training_data_sha256:
        raise BadInputError(
            f"--images differ from the photos {card_path.name} was trained on (data hash {data.sha256[:12]} != "
            f"{card.training_data_sha256[:12]}): give the same sources in the same order"
        )
    arch, backbone, epochs, options = options_from_card(card)
    options["threads"] = run.pop("threads")
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("lootwatch.models").setLevel(logging.INFO)
    typer.echo(f"retraining {card.name}: {arch} on {backbone}, {epochs} epoch(s), recorded settings {options}")
    path = train_descriptor(images, out, arch=arch, backbone=backbone, epochs=epochs, **run, **options)
    _record_prior(path, images)
    typer.echo(f"wrote {path} ({read_checkpoint(path)[0].version})")


def _record_prior(path: Path, images: list[Path]) -> bool:
    """Measure the score prior on the held-out objects and record it on the card (matcher.prior)."""
    from lootwatch.matcher.prior import write_score_prior  # heavy import: torch
    from lootwatch.matcher.views import GalleryViews  # heavy import: torch
    from lootwatch.models.descriptor import read_checkpoint  # heavy import: torch

    if not (read_checkpoint(path)[0].extra.get("validation") or {}).get("held_out_objects"):
        return False
    s = settings()
    prior = write_score_prior(path, images, views=GalleryViews(s.gallery_scales, s.gallery_mirror))
    typer.echo(
        f"score prior measured on {prior['n_artefacts']} held-out objects ({prior['n_queries']} listing photos), "
        "recorded on the card: index builds set their alert levels with it"
    )
    return True


def register(app: typer.Typer) -> None:
    try:
        register_classifier(train_app)
    except ModuleNotFoundError as exc:
        if exc.name != "lootwatch.cli.train_classifier":
            raise
    app.add_typer(train_app, name="train")
