"""``lootwatch web``: the review app (its accounts: ``lootwatch users``, :mod:`lootwatch.cli.users`)."""

from __future__ import annotations

import typer

from lootwatch.cli.context import running


def register(app: typer.Typer) -> None:
    @app.command()
    def web(
        host: str = typer.Option("127.0.0.1", help="Address to listen on (put a TLS proxy in front to expose it)."),
        port: int = typer.Option(8000, help="Port."),
        https_only: bool = typer.Option(False, help="Send the session cookie over HTTPS only."),
    ) -> None:
        """Serve the review app: queue, evidence, decisions with audit log."""
        import uvicorn

        from lootwatch.web.app import create_app  # heavy import: FastAPI, only for `lootwatch web`

        with running() as (s, db, urls):
            if not db.fetchone("SELECT 1 AS x FROM users WHERE disabled_at IS NULL LIMIT 1"):
                typer.secho("note: no accounts yet; add one with `lootwatch users add NAME`", fg=typer.colors.YELLOW)
            typer.echo(f"review app on http://{host}:{port}/ (Ctrl-C to stop)")
            app = create_app(s, db, https_only=https_only, redis_url=urls.redis_url)
            uvicorn.run(app, host=host, port=port, log_level="warning")
