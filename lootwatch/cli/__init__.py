"""The ``lootwatch`` command. Each sub-module registers its commands on the one Typer app."""

from __future__ import annotations

import importlib
import logging
import signal
import sys

import click
import typer

from lootwatch.core.errors import user_errors

app = typer.Typer(
    name="lootwatch",
    help="Watch auction houses for protected cultural-heritage objects.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Each module defines register(app). Imported lazily by main() so `lootwatch --help` stays fast
# and a module's heavy imports (torch, scrapy) load only with its own commands.
COMMAND_MODULES = [
    "lootwatch.cli.setup",
    "lootwatch.cli.gallery",
    "lootwatch.cli.index",
    "lootwatch.cli.crawl",
    "lootwatch.cli.worker",
    "lootwatch.cli.review",
    "lootwatch.cli.notify",
    "lootwatch.cli.demo",
    "lootwatch.cli.evaluate",
    "lootwatch.cli.train",
    "lootwatch.cli.web",
    "lootwatch.cli.users",
    "lootwatch.cli.status",
    "lootwatch.cli.evidence",
    "lootwatch.cli.thresholds",
    "lootwatch.cli.recipients",
    "lootwatch.cli.sites",
]


def build_app() -> typer.Typer:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a command module not written yet
                continue
            raise
        module.register(app)
    return app


def _exit_on_sigterm() -> None:
    # SIGTERM (docker stop, timeout, a supervisor) becomes a normal exit, so context managers and
    # atexit hooks run and an embedded PostgreSQL / Redis started by this process is stopped.
    def _handler(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _handler)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _exit_on_sigterm()
    try:
        build_app()(standalone_mode=False)
    except user_errors() as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as exc:  # usage errors arrive here with standalone_mode=False
        if _is_usage_error(exc):
            exc.show()  # type: ignore[attr-defined]
            sys.exit(getattr(exc, "exit_code", 2))
        if _is_settings_error(exc):
            typer.secho(
                f"error: invalid settings (LOOTWATCH_* environment or .env): {exc}", err=True, fg=typer.colors.RED
            )
            sys.exit(2)
        raise


def _is_usage_error(exc: Exception) -> bool:
    """A usage error (bad option, missing argument, unknown command): typer raises its own copy of
    click's exceptions, and a plain click one may come from click-based code."""
    return isinstance(exc, typer.TyperException | click.ClickException) and callable(getattr(exc, "show", None))


def _is_settings_error(exc: Exception) -> bool:
    import pydantic

    return isinstance(exc, pydantic.ValidationError)
