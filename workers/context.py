"""Per-process state of a worker: settings, database, blob store and the match engine.

RQ jobs take only JSON-able arguments, so what they need beyond those lives here, built once when
the worker process starts (model and index are loaded once per process, never per job).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lootwatch.core.db import Database
from lootwatch.core.errors import ConfigError
from lootwatch.core.settings import Settings
from lootwatch.core.storage import BlobStore

if TYPE_CHECKING:
    from lootwatch.workers.engine import MatchEngine


@dataclass
class WorkerContext:
    settings: Settings
    db: Database
    store: BlobStore
    engine: MatchEngine
    # set on a warm shutdown: a job draining the queue stops claiming batches
    stopping: threading.Event = field(default_factory=threading.Event)


_current: WorkerContext | None = None


def install(ctx: WorkerContext) -> None:
    global _current
    _current = ctx


def current() -> WorkerContext:
    if _current is None:
        raise ConfigError("this process is not a lootwatch worker: run jobs with `lootwatch worker`")
    return _current
