"""``lootwatch recipients add|list|remove``: who gets alert notices, at once or as a daily digest."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lootwatch.alerts.recipients import add_recipient, list_recipients, remove_recipient
from lootwatch.cli.context import running
from lootwatch.core.errors import NotFoundError

recipients_app = typer.Typer(help="Notice recipients: immediate or daily digest, per collection.", no_args_is_help=True)


@recipients_app.command("add")
def add_cmd(
    channel: str = typer.Argument(..., help="email or slack."),
    address: str = typer.Argument(..., help="Email address, or Slack incoming-webhook URL."),
    mode: str = typer.Option("immediate", help="immediate (one notice per alert) or daily (one digest a day)."),
    collection: str | None = typer.Option(None, help="Only alerts on artefacts of this collection."),
) -> None:
    """Add a recipient of alert notices."""
    with running() as (s, db, _urls):
        rid = add_recipient(db, channel, address, mode, collection)
        if channel == "email" and not s.smtp_host:
            typer.secho("note: smtp_host is not set; email waits until it is", fg=typer.colors.YELLOW, err=True)
    typer.echo(f"recipient {rid}: {channel} {address} ({mode}{f', collection {collection}' if collection else ''})")


@recipients_app.command("list")
def list_cmd(
    all_: bool = typer.Option(False, "--all", help="Include removed recipients."),
) -> None:
    """Recipients, with the settings' email_to / slack_webhook_url (always immediate)."""
    with running() as (s, db, _urls):
        rows = list_recipients(db, include_removed=all_)
    table = Table("id", "channel", "address", "mode", "collection", "active", "last digest up to")
    for addr in s.email_to:
        table.add_row(
            "settings", "email", escape(addr), "immediate", "(all)", "yes" if s.smtp_host else "no smtp_host", ""
        )
    if s.slack_webhook_url:
        table.add_row("settings", "slack", "(slack_webhook_url)", "immediate", "(all)", "yes", "")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["channel"],
            escape(r["address"]),
            r["mode"],
            escape(r["collection"] or "(all)"),
            "yes" if r["active"] else "removed",
            f"{r['digest_until']:%Y-%m-%d %H:%M} UTC" if r["digest_until"] else "",
        )
    Console(width=200).print(table)


@recipients_app.command("remove")
def remove_cmd(recipient_id: int = typer.Argument(..., help="Id shown by `lootwatch recipients list`.")) -> None:
    """Stop notices to a recipient (queued ones are still delivered)."""
    with running() as (_s, db, _urls):
        if not remove_recipient(db, recipient_id):
            raise NotFoundError(f"no active recipient {recipient_id}")
    typer.echo(f"recipient {recipient_id} removed")


def register(app: typer.Typer) -> None:
    app.add_typer(recipients_app, name="recipients")
