"""The SQL migrations: each applies on an empty database and on the schema of the ones before it, the
runner is idempotent, and the append-only tables refuse TRUNCATE as they refuse UPDATE and DELETE."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from lootwatch.core.db.migrate import migrate, migration_files

pytestmark = pytest.mark.postgres

APPEND_ONLY = ("decisions", "page_snapshots", "listing_history")


@contextmanager
def _fresh_database(server_url: str) -> Iterator[str]:
    name = f"lootwatch_migrations_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield psycopg.conninfo.make_conninfo(server_url, dbname=name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _apply_first(url: str, k: int) -> list[str]:
    """Apply the first ``k`` migration files by hand and record them as the runner does: the schema an
    older lootwatch left behind."""
    files = migration_files()[:k]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, sql in files:
            with conn.transaction():
                conn.execute(sql.encode())
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
    return [v for v, _ in files]


def _schema(url: str) -> list[tuple[str, ...]]:
    """Tables, columns and triggers of the public schema: equal schemas have equal lists."""
    with psycopg.connect(url) as conn:
        columns = conn.execute(
            """SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, '')
               FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2"""
        ).fetchall()
        triggers = conn.execute(
            """SELECT c.relname, t.tgname, t.tgtype::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
               WHERE NOT t.tgisinternal ORDER BY 1, 2"""
        ).fetchall()
    return [tuple(map(str, r)) for r in (*columns, *triggers)]


def test_versions_are_unique_and_ordered() -> None:
    versions = [v for v, _ in migration_files()]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert all(v.isdigit() and len(v) == 4 for v in versions)


def test_every_migration_applies_on_an_empty_database_and_the_runner_is_idempotent(_server_url: str) -> None:
    versions = [v for v, _ in migration_files()]
    with _fresh_database(_server_url) as url:
        assert migrate(url) == versions
        assert migrate(url) == []  # nothing left to apply
        with psycopg.connect(url) as conn:
            recorded = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
        assert recorded == versions


@pytest.mark.parametrize("k", range(1, len(migration_files())))
def test_each_migration_applies_on_the_schema_of_the_previous_ones(_server_url: str, k: int) -> None:
    """0001..k applied (an older release), then the runner brings the rest: the same schema as a fresh install."""
    versions = [v for v, _ in migration_files()]
    with _fresh_database(_server_url) as fresh:
        migrate(fresh)
        with _fresh_database(_server_url) as upgraded:
            assert _apply_first(upgraded, k) == versions[:k]
            assert migrate(upgraded) == versions[k:]
            assert _schema(upgraded) == _schema(fresh)


def test_append_only_tables_refuse_truncate_update_and_delete(_server_url: str) -> None:
    with _fresh_database(_server_url) as url:
        migrate(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO sources (name) VALUES ('s')")
            conn.execute("INSERT INTO listings (source_id, url, item_id) VALUES (1, 'http://s.example/1', '1')")
            conn.execute("INSERT INTO artefacts (id) VALUES ('A1')")
            conn.execute("INSERT INTO review_items (listing_id, artefact_id, score) VALUES (1, 'A1', 0.9)")
            conn.execute(
                """INSERT INTO decisions (review_item_id, actor, from_state, to_state)
                   VALUES (1, 'ana', 'new', 'confirmed')"""
            )
            conn.execute(
                """INSERT INTO page_snapshots (listing_id, url, sha256, stored_path, http_status)
                   VALUES (1, 'http://s.example/1', 'ab', 'pages/x', 200)"""
            )
            conn.execute(
                "INSERT INTO listing_history (listing_id, field, old_value, new_value) VALUES (1, 'title', 'a', 'b')"
            )
            for table in APPEND_ONLY:
                for sql in (
                    f"TRUNCATE {table}",
                    f"TRUNCATE {table} CASCADE",
                    f"UPDATE {table} SET id = id",
                    f"DELETE FROM {table}",
                ):
                    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                        conn.execute(sql)  # type: ignore[arg-type]
            # nor through a CASCADE from the tables they reference
            for parent in ("listings", "review_items", "sources"):
                with pytest.raises(psycopg.errors.RaiseException, match="cannot be truncated"):
                    conn.execute(f"TRUNCATE {parent} CASCADE")  # type: ignore[arg-type]
            counts = [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in APPEND_ONLY]  # type: ignore[index]
        assert counts == [1, 1, 1]  # every row is still there
