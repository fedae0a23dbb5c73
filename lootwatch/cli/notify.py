"""``lootwatch notify``: deliver the notices outbox (email, Slack)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import typer

from lootwatch.cli.context import running

if TYPE_CHECKING:
    from alerts.dispatch import DeliveryStats


def register(app: typer.Typer) -> None:
    @app.command()
    def notify(
        once: bool = typer.Option(False, "--once", help="Deliver what is due now, print counts and exit."),
        poll: float = typer.Option(2.0, min=0.1, help="Seconds between looks at the outbox."),
    ) -> None:
        """Deliver due notices, retrying failures with backoff, until Ctrl-C."""
        from alerts.dispatch import deliver_due, run_sender
        from alerts.outbox import channels

        with running() as (s, db, _urls):
            if not channels(s):
                typer.secho(
                    "note: no channel configured (set smtp_host + email_to, or slack_webhook_url); "
                    "notices already queued are still attempted",
                    fg=typer.colors.YELLOW,
                    err=True,
                )
            if once:
                stats = deliver_due(db, s)
                _report(stats)
                if stats.dead:
                    raise typer.Exit(1)
                return
            stop = threading.Event()

            def show(stats: DeliveryStats) -> None:
                typer.echo(stats.summary())

            typer.echo("delivering notices; Ctrl-C to stop")
            try:
                total = run_sender(db, s, stop, poll, on_round=show)
            except KeyboardInterrupt:
                stop.set()
                typer.echo("stopped")
                return
            _report(total)


def _report(stats: DeliveryStats) -> None:
    typer.echo(stats.summary())
    for error in stats.errors[-10:]:
        typer.secho(f"  {error}", fg=typer.colors.YELLOW)
