"""The training worker: classifier retraining jobs from the ``training`` queue, apart from photo matching.

A retraining takes minutes of every core; on the photo queue it held a photo worker that long while
photos waited. It needs the settings and the database only (the job loads the descriptor it
calibrates with itself), so a training worker loads no match engine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from lootwatch.workers.context import current

from lootwatch.core.db import Database
from lootwatch.core.errors import ConfigError
from lootwatch.core.queueing import QuickStopWorker, training_queue
from lootwatch.core.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingContext:
    settings: Settings
    db: Database


_current: TrainingContext | None = None


def install_training(ctx: TrainingContext) -> None:
    global _current
    _current = ctx


def training_context() -> TrainingContext:
    """This process's training context; a photo worker's context serves too (a retraining job queued on
    a photo queue by an older lootwatch still runs)."""
    if _current is not None:
        return _current
    ctx = current()
    return TrainingContext(ctx.settings, ctx.db)


def run_training_worker(settings: Settings, *, burst: bool = False) -> bool:
    """Take retraining jobs from the training queue until stopped (``burst``: until it is empty)."""
    if not settings.database_url or not settings.redis_url:
        raise ConfigError("a training worker needs resolved database and redis URLs")
    install_training(TrainingContext(settings, Database(settings.database_url)))
    queue = training_queue(settings.redis_url)
    log.info("training worker listening on queue %r", queue.name)
    worker = QuickStopWorker([queue], connection=queue.connection, serializer=queue.serializer)
    return bool(worker.work(burst=burst, logging_level="INFO", with_scheduler=False))
