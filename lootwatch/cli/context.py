"""What every command needs: the settings, and the services they name."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from lootwatch.core.db import Database
from lootwatch.core.services import ServiceUrls, describe, services
from lootwatch.core.settings import Settings, load_settings

_settings: Settings | None = None
_announced = False  # the services in use are printed once per process


def settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = load_settings()
    return _settings


@contextmanager
def running() -> Iterator[tuple[Settings, Database, ServiceUrls]]:
    """Settings, the (migrated) database and the service URLs, for the length of a command. The first
    time in a process, says on stderr which database and Redis are in use (embedded or which URL)."""
    global _announced
    s = settings()
    with services(s) as urls:
        if not _announced:
            _announced = True
            typer.echo(f"lootwatch: {describe(s, urls)}", err=True)
        yield s, Database(urls.database_url), urls
