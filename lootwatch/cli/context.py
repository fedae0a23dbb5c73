"""What every command needs: the settings, and the services they name."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from lootwatch.core.db import Database
from lootwatch.core.services import ServiceUrls, services
from lootwatch.core.settings import Settings, load_settings

_settings: Settings | None = None


def settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = load_settings()
    return _settings


@contextmanager
def running() -> Iterator[tuple[Settings, Database, ServiceUrls]]:
    """Settings, the (migrated) database and the service URLs, for the length of a command."""
    s = settings()
    with services(s) as urls:
        yield s, Database(urls.database_url), urls
