"""``lootwatch web`` (the review app) and ``lootwatch users add|list|password`` (its accounts)."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lootwatch.cli.context import running

users_app = typer.Typer(help="Accounts of the review web app.", no_args_is_help=True)


def _password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("add")
def add_cmd(
    username: str = typer.Argument(..., help="Login name."),
    role: str = typer.Option("analyst", help="analyst or admin (admins settle escalated items)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
) -> None:
    """Create an account (the password is asked for, never taken as an argument)."""
    from lootwatch.web.accounts import add_user  # heavy import: argon2, only for the web commands

    password = _password(password_stdin)
    with running() as (_, db, _urls):
        add_user(db, username, password, role)
    typer.echo(f"user {username} ({role}) added")


@users_app.command("password")
def password_cmd(
    username: str = typer.Argument(..., help="Login name."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
) -> None:
    """Set a new password."""
    from lootwatch.web.accounts import set_password  # heavy import: argon2, only for the web commands

    password = _password(password_stdin)
    with running() as (_, db, _urls):
        set_password(db, username, password)
    typer.echo(f"password of {username} changed")


@users_app.command("list")
def list_cmd() -> None:
    """Accounts and their last login."""
    from lootwatch.web.accounts import list_users  # heavy import: argon2, only for the web commands

    with running() as (_, db, _urls):
        rows = list_users(db)
    table = Table("id", "user", "role", "last login", "disabled")
    for r in rows:
        last = f"{r['last_login_at']:%Y-%m-%d %H:%M}" if r["last_login_at"] else ""
        table.add_row(str(r["id"]), escape(r["username"]), r["role"], last, "yes" if r["disabled_at"] else "")
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")

    @app.command()
    def web(
        host: str = typer.Option("127.0.0.1", help="Address to listen on (put a TLS proxy in front to expose it)."),
        port: int = typer.Option(8000, help="Port."),
        https_only: bool = typer.Option(False, help="Send the session cookie over HTTPS only."),
    ) -> None:
        """Serve the review app: queue, evidence, decisions with audit log."""
        import uvicorn

        from lootwatch.web.app import create_app  # heavy import: FastAPI, only for `lootwatch web`

        with running() as (s, db, _urls):
            if not db.fetchone("SELECT 1 AS x FROM users WHERE disabled_at IS NULL LIMIT 1"):
                typer.secho("note: no accounts yet; add one with `lootwatch users add NAME`", fg=typer.colors.YELLOW)
            typer.echo(f"review app on http://{host}:{port}/ (Ctrl-C to stop)")
            uvicorn.run(create_app(s, db, https_only=https_only), host=host, port=port, log_level="warning")
