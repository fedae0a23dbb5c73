"""Apply the versioned SQL files in ``migrations/`` in order, each once, each in a transaction.

Re-runnable: applied versions are recorded in ``schema_migrations``; an advisory lock keeps two
processes (say, two workers starting together) from migrating at once.
"""

from __future__ import annotations

from importlib import resources

from lootwatch.core.db.connection import connect

_LOCK_KEY = 0x100770A7C4  # arbitrary, constant: lootwatch's migration lock


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("lootwatch.core.db") / "migrations"
    files = sorted((p for p in folder.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name)
    return [(p.name.split("_", 1)[0], p.read_text()) for p in files]


def migrate(url: str) -> list[str]:
    """Apply pending migrations; return the versions applied now."""
    applied_now: list[str] = []
    with connect(url) as conn:
        conn.autocommit = True
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in conn.execute("SELECT version FROM schema_migrations")}
            for version, sql in migration_files():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(sql.encode())  # bytes: a whole migration file, not a literal string
                    conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                applied_now.append(version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now
