"""``lootwatch gallery import|list``: the protected gallery."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from lootwatch.cli.context import running
from lootwatch.core.queueing import RETRAIN_JOB_ID, TRAINING_QUEUE, enqueue_retrain, training_queue
from lootwatch.core.storage import BlobStore
from lootwatch.gallery import ImportReport, import_gallery

gallery_app = typer.Typer(help="Register and list protected artefacts.", no_args_is_help=True)


@gallery_app.command("import")
def import_cmd(
    path: Path = typer.Argument(..., help="Folder per artefact, or a gallery.csv (benchmark layout)."),
) -> None:
    """Register artefacts and photos; unusable photos are listed with the reason and recorded."""
    with running() as (s, db, urls):
        report = import_gallery(
            db,
            BlobStore(s.store_dir),
            path,
            max_bytes=s.max_photo_bytes,
            max_pixels=s.max_photo_pixels,
            progress=lambda it: tqdm(list(it), desc="gallery photos", unit="photo"),
        )
        if report.changed:
            _queue_retraining(urls.redis_url, report)
    typer.echo(
        f"{report.artefacts} artefacts ({report.artefacts_added} new): {report.photos_added} photos added, "
        f"{report.photos_known} already known, {len(report.rejected)} rejected"
    )
    for ref, reason in report.rejected:
        typer.secho(f"  rejected {ref}: {reason}", fg=typer.colors.YELLOW)
    if not report.ok:
        raise typer.Exit(1)


def _queue_retraining(redis_url: str, report: ImportReport) -> None:
    """The classifier knows only the artefacts it was trained on: queue its retraining on the training
    queue, which only a training worker takes (photo workers go on matching with the live classifier
    version until the new one is published)."""
    reason = f"gallery import: {report.artefacts_added} artefacts and {report.photos_added} photos added"
    job = enqueue_retrain(training_queue(redis_url), reason)
    if job is None:
        typer.echo(f"classifier retraining already queued (job {RETRAIN_JOB_ID}); it will read this gallery")
    else:
        typer.echo(f"classifier retraining queued on the {TRAINING_QUEUE!r} queue (job {RETRAIN_JOB_ID}: {reason})")
    typer.echo(f"  run it with: lootwatch worker --queue {TRAINING_QUEUE}")


@gallery_app.command("list")
def list_cmd() -> None:
    """Artefacts with their photo counts."""
    with running() as (_, db, _urls):
        rows = db.fetchall(
            """SELECT a.id, a.title, a.collection, count(p.id) AS photos
               FROM artefacts a LEFT JOIN artefact_photos p ON p.artefact_id = a.id
               WHERE a.removed_at IS NULL GROUP BY a.id ORDER BY a.id"""
        )
    table = Table("artefact", "title", "collection", "photos")
    for r in rows:
        table.add_row(r["id"], r["title"], r["collection"], str(r["photos"]))
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(gallery_app, name="gallery")
