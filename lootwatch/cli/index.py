"""``lootwatch index build|show``: the FAISS index of the protected gallery."""

from __future__ import annotations

import json

import typer

from lootwatch.cli.context import running, settings

index_app = typer.Typer(help="Build and inspect the gallery index.", no_args_is_help=True)


@index_app.command("build")
def build(
    descriptor: str = typer.Option(None, help="Descriptor checkpoint or name (default: the setting)."),
    kind: str = typer.Option("flat", help="flat (exact), hnsw or ivfpq (approximate, for very large galleries)."),
) -> None:
    """Embed the gallery, calibrate the alert threshold on it, publish a new index version."""
    from lootwatch.indexing import build_and_publish

    with running() as (s, db, _):
        index = build_and_publish(db, s, descriptor_spec=descriptor, kind=kind)
    typer.echo(f"published {index.version}: {index.ntotal} photos of {len(index.artefacts)} artefacts")
    typer.echo(
        f"alert threshold {index.threshold:.4f} (calibrated on the gallery; LOOTWATCH_ALERT_THRESHOLD overrides)"
    )


@index_app.command("show")
def show() -> None:
    """The live index version, its descriptor card and calibration."""
    from matcher.store import load_current

    index = load_current(settings().index_dir)
    meta = index.meta()
    meta.pop("artefact_of", None)  # one line per photo: too long to read
    typer.echo(json.dumps(meta, indent=2, default=str))


def register(app: typer.Typer) -> None:
    app.add_typer(index_app, name="index")
