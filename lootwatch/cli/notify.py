"""``lootwatch notify``: queue due daily digests and deliver the notices outbox (email, Slack)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import typer

from lootwatch.alerts.dispatch import deliver_due, run_sender
from lootwatch.alerts.outbox import channels
from lootwatch.alerts.recipients import enqueue_digests, list_recipients
from lootwatch.cli.context import running

if TYPE_CHECKING:
    from lootwatch.alerts.dispatch import DeliveryStats


def register(app: typer.Typer) -> None:
    @app.command()
    def notify(
        once: bool = typer.Option(False, "--once", help="Deliver what is due now, print counts and exit."),
        digest_now: bool = typer.Option(
            False,
            "--digest-now",
            help="Send today's daily digests now (alerts so far; later ones go into tomorrow's), then deliver once.",
        ),
        poll: float = typer.Option(2.0, min=0.1, help="Seconds between looks at the outbox."),
    ) -> None:
        """Deliver due notices (and daily digests, after midnight UTC), retrying failures with backoff."""
        with running() as (s, db, _urls):
            if not channels(s) and not list_recipients(db):
                typer.secho(
                    "note: no recipient configured (set smtp_host + email_to, or slack_webhook_url, or "
                    "`lootwatch recipients add`); notices already queued are still attempted",
                    fg=typer.colors.YELLOW,
                    err=True,
                )
            if once or digest_now:
                digests = enqueue_digests(db, s, force=digest_now)
                if digests.written or digest_now:
                    typer.echo(f"{digests.written} digest(s) queued, {digests.empty} recipient(s) with nothing new")
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
