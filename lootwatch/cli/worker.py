"""``lootwatch worker``: match queued listing photos against the gallery."""

from __future__ import annotations

import os

import typer

from lootwatch.cli.context import running
from lootwatch.core.services import resolved


def register(app: typer.Typer) -> None:
    @app.command()
    def worker(
        processes: int = typer.Option(0, help="Worker processes (0: the setting, else one per core)."),
        burst: bool = typer.Option(False, help="Exit when the queue is empty."),
    ) -> None:
        """Run RQ workers (model and index loaded once per process, photos matched in batches)."""
        from lootwatch.workers.process import run_pool, run_worker  # heavy import: faiss

        with running() as (s, _db, urls):
            child_settings = resolved(s, urls)
            n = processes or s.worker_processes or (os.cpu_count() or 1)
            if n == 1:
                run_worker(child_settings, burst=burst)
                return
            codes = run_pool(child_settings, n, burst=burst)
        if any(codes):
            raise typer.Exit(1)
