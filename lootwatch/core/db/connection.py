"""Connections to PostgreSQL.

Components take a :class:`Database` (a URL plus helpers) rather than a global connection, so a
worker, the crawler and a test can each hold their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeAlias

import psycopg
from psycopg.rows import DictRow, dict_row

from lootwatch.core.errors import ConfigError

Conn: TypeAlias = psycopg.Connection[DictRow]
Params: TypeAlias = Any  # a sequence or mapping of query parameters


@dataclass(frozen=True)
class Database:
    url: str

    @contextmanager
    def transaction(self) -> Iterator[Conn]:
        """A connection in one transaction: committed on success, rolled back on error."""
        with connect(self.url) as conn, conn.transaction():
            yield conn

    def fetchall(self, sql: str, params: Params = None) -> list[DictRow]:
        with connect(self.url) as conn:
            return conn.execute(sql, params).fetchall()

    def fetchone(self, sql: str, params: Params = None) -> DictRow | None:
        with connect(self.url) as conn:
            return conn.execute(sql, params).fetchone()

    def execute(self, sql: str, params: Params = None) -> None:
        with self.transaction() as conn:
            conn.execute(sql, params)


def connect(url: str) -> Conn:
    try:
        return psycopg.connect(url, row_factory=dict_row, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise ConfigError(f"cannot connect to PostgreSQL at {_redact(url)}: {exc}".strip()) from exc


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
