"""Database access: plain SQL over psycopg 3, versioned SQL migrations inside the package."""

from __future__ import annotations

from lootwatch.core.db.connection import Conn, Database, connect

__all__ = ["Conn", "Database", "connect"]
