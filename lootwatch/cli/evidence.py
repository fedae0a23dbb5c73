"""``lootwatch evidence ALERT_ID``: write a review item's evidence bundle (a reproducible ZIP)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import typer

from lootwatch.cli.context import running


def register(app: typer.Typer) -> None:
    @app.command()
    def evidence(
        alert_id: int = typer.Argument(..., help="Review item id."),
        out: Path | None = typer.Option(None, "--out", help="ZIP to write (default: evidence-ALERT_ID.zip)."),
    ) -> None:
        """Page snapshots, photos, matched gallery photos, scores, versions and decisions, with hashes."""
        from lootwatch.alerts.evidence import build_evidence_zip
        from lootwatch.core.storage import BlobStore

        with running() as (s, db, _urls):
            data = build_evidence_zip(db, BlobStore(s.store_dir), alert_id)
        path = out or Path(f"evidence-{alert_id}.zip")
        _write(path, data)
        typer.echo(f"{path}  {len(data)} bytes  sha256 {hashlib.sha256(data).hexdigest()}")


def _write(path: Path, data: bytes) -> None:
    # write-then-rename: an interrupted export never leaves a truncated bundle under the name
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
