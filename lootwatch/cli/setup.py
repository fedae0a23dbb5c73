"""``lootwatch migrate`` and ``lootwatch services``: the database schema and the servers."""

from __future__ import annotations

import typer

from lootwatch.cli.context import running


def register(app: typer.Typer) -> None:
    @app.command()
    def migrate() -> None:
        """Create or upgrade the database schema (safe to run again)."""
        with running() as (_, db, urls):
            row = db.fetchone("SELECT max(version) AS v FROM schema_migrations")
            typer.echo(f"schema at version {row['v'] if row else '?'} on {urls.database_url.split('@')[-1]}")

    @app.command("services")
    def services_cmd() -> None:
        """Print the PostgreSQL and Redis URLs in use (starting the embedded ones if needed)."""
        with running() as (_, _db, urls):
            typer.echo(f"LOOTWATCH_DATABASE_URL={urls.database_url}")
            typer.echo(f"LOOTWATCH_REDIS_URL={urls.redis_url}")
