"""``lootwatch worker``: match queued listing photos against the gallery, or (``--queue training``)
retrain the classifier when the gallery changed."""

from __future__ import annotations

import os
from enum import StrEnum

import typer

from lootwatch.cli.context import running
from lootwatch.core.queueing import TRAINING_QUEUE
from lootwatch.core.services import resolved


class WorkerQueue(StrEnum):
    photos = "photos"  # the photo queue (settings.queue_name)
    training = TRAINING_QUEUE


def register(app: typer.Typer) -> None:
    @app.command()
    def worker(
        processes: int = typer.Option(0, help="Worker processes (0: the setting, else one per core)."),
        burst: bool = typer.Option(False, help="Exit when the queue is empty."),
        queue: WorkerQueue = typer.Option(
            WorkerQueue.photos,
            help="photos: match listing photos (model and index loaded once per process). "
            "training: retrain the classifier after gallery changes (one process, all cores).",
        ),
    ) -> None:
        """Run RQ workers: photo matching (default) or classifier retraining (--queue training)."""
        with running() as (s, _db, urls):
            child_settings = resolved(s, urls)
            if queue is WorkerQueue.training:
                from lootwatch.workers.training import run_training_worker  # heavy import: torch

                run_training_worker(child_settings, burst=burst)
                return
            from lootwatch.workers.process import run_pool, run_worker  # heavy import: torch, faiss

            n = processes or s.worker_processes or (os.cpu_count() or 1)
            if n == 1:
                run_worker(child_settings, burst=burst)
                return
            codes = run_pool(child_settings, n, burst=burst)
        if any(codes):
            raise typer.Exit(1)
