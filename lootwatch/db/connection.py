"""Connections to PostgreSQL.

Components take a :class:`Database` (a URL plus helpers) rather than a global connection, so a
worker, the crawler and a test can each hold their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row

from lootwatch.errors import ConfigError


@dataclass(frozen=True)
class Database:
    url: str

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """A connection in one transaction: committed on success, rolled back on error."""
        with connect(self.url) as conn, conn.transaction():
            yield conn

    def fetchall(self, sql: str, params: object = None) -> list[dict]:
        with connect(self.url) as conn:
            return list(conn.execute(sql, params).fetchall())  # type: ignore[arg-type]

    def fetchone(self, sql: str, params: object = None) -> dict | None:
        with connect(self.url) as conn:
            return conn.execute(sql, params).fetchone()  # type: ignore[arg-type,return-value]

    def execute(self, sql: str, params: object = None) -> None:
        with self.transaction() as conn:
            conn.execute(sql, params)  # type: ignore[arg-type]


def connect(url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(url, row_factory=dict_row, connect_timeout=10)  # type: ignore[return-value]
    except psycopg.OperationalError as exc:
        raise ConfigError(f"cannot connect to PostgreSQL at {_redact(url)}: {exc}".strip()) from exc


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
