"""``lootwatch index build|show``: the FAISS index of the protected gallery."""

from __future__ import annotations

import json

import typer

from lootwatch.cli.context import running, settings
from lootwatch.indexing import build_and_publish, describe_levels

index_app = typer.Typer(help="Build and inspect the gallery index.", no_args_is_help=True)


@index_app.command("build")
def build(
    descriptor: str = typer.Option(None, help="Descriptor checkpoint or name (default: the setting)."),
    kind: str = typer.Option(
        "auto",
        help="auto (exact up to the size bench/bench_faiss.py measured, then HNSW), flat, hnsw, ivfflat, ivfpq.",
    ),
    fine_tune_steps: int = typer.Option(
        None,
        "--fine-tune-steps",
        min=0,
        help="Fine-tune the descriptor on the gallery for this many steps first (0: off; default: the setting).",
    ),
) -> None:
    """Embed the gallery (fine-tuning the descriptor on it first), calibrate the alert threshold, publish."""
    with running() as (s, db, _):
        index = build_and_publish(
            db, s, descriptor_spec=descriptor, kind=kind, fine_tune_steps=fine_tune_steps, say=typer.echo
        )
    typer.echo(f"published {index.version}: {index.ntotal} photos of {len(index.artefacts)} artefacts")
    how = index.calibration.get("queries", "the gallery")
    prior = index.calibration.get("prior", "none")
    typer.echo(f"alert levels calibrated on {how}; score prior: {prior}")
    for line in describe_levels(index.calibration):
        typer.echo(line)
    typer.echo(
        f"queue threshold {index.threshold:.4f}, notify threshold {index.notify_threshold:.4f} "
        "(LOOTWATCH_ALERT_THRESHOLD and LOOTWATCH_NOTIFY_THRESHOLD override)"
    )


@index_app.command("show")
def show() -> None:
    """The live index version, its descriptor card and calibration."""
    from lootwatch.matcher.store import load_current  # heavy import: faiss

    index = load_current(settings().index_dir)
    meta = index.meta()
    meta.pop("artefact_of", None)  # one line per photo: too long to read
    typer.echo(json.dumps(meta, indent=2, default=str))


def register(app: typer.Typer) -> None:
    app.add_typer(index_app, name="index")
