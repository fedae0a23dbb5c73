"""``lootwatch evidence ALERT_ID``: write a review item's evidence bundle (a reproducible ZIP)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import typer

from lootwatch.alerts.evidence import build_evidence_zip
from lootwatch.cli.context import running
from lootwatch.core.files import atomic_write
from lootwatch.core.storage import BlobStore


def register(app: typer.Typer) -> None:
    @app.command()
    def evidence(
        alert_id: int = typer.Argument(..., help="Review item id."),
        out: Path | None = typer.Option(None, "--out", help="ZIP to write (default: evidence-ALERT_ID.zip)."),
    ) -> None:
        """Page snapshots, photos, matched gallery photos, scores, versions and decisions, with hashes."""
        with running() as (s, db, _urls):
            data = build_evidence_zip(db, BlobStore(s.store_dir), alert_id)
        path = out or Path(f"evidence-{alert_id}.zip")
        atomic_write(path, data)  # an interrupted export never leaves a truncated bundle under the name
        typer.echo(f"{path}  {len(data)} bytes  sha256 {hashlib.sha256(data).hexdigest()}")
