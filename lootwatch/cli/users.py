"""``lootwatch users add|list|passwd|disable``: accounts of the review web app.

A new password or a disabled account ends every session of the user at once.
"""

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
    from lootwatch.web.accounts import add_user  # heavy import: argon2, FastAPI

    password = _password(password_stdin)
    with running() as (_, db, _urls):
        add_user(db, username, password, role)
    typer.echo(f"user {username} ({role}) added")


@users_app.command("passwd")
def passwd_cmd(
    username: str = typer.Argument(..., help="Login name."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
) -> None:
    """Set a new password; every session of the user ends."""
    from lootwatch.web.accounts import set_password  # heavy import: argon2, FastAPI

    password = _password(password_stdin)
    with running() as (_, db, _urls):
        ended = set_password(db, username, password)
    typer.echo(f"password of {username} changed; {ended} session(s) ended")


# the earlier name of `passwd`, kept so scripts using it go on working
users_app.command("password", hidden=True)(passwd_cmd)


@users_app.command("disable")
def disable_cmd(username: str = typer.Argument(..., help="Login name.")) -> None:
    """Disable an account (kept, since decisions name it) and end all its sessions at once."""
    from lootwatch.web.accounts import disable_user  # heavy import: argon2, FastAPI

    with running() as (_, db, _urls):
        ended = disable_user(db, username)
    typer.echo(f"user {username} disabled; {ended} session(s) ended")


@users_app.command("list")
def list_cmd() -> None:
    """Accounts, their last login and live sessions."""
    from lootwatch.web.accounts import list_users  # heavy import: argon2, FastAPI
    from lootwatch.web.sessions import live_sessions  # heavy import: argon2, FastAPI

    with running() as (_, db, _urls):
        rows, sessions = list_users(db), live_sessions(db)
    table = Table("id", "user", "role", "last login", "sessions", "disabled")
    for r in rows:
        last = f"{r['last_login_at']:%Y-%m-%d %H:%M}" if r["last_login_at"] else ""
        table.add_row(
            str(r["id"]), escape(r["username"]), r["role"], last, str(sessions.get(r["id"], 0)),
            "yes" if r["disabled_at"] else "",
        )  # fmt: skip
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
