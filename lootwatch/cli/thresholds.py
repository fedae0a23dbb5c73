"""``lootwatch thresholds suggest``: precision and recall of past verdicts at candidate thresholds."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lootwatch.alerts.thresholds import suggest, toml_snippet
from lootwatch.cli.context import running

thresholds_app = typer.Typer(help="Tune alert thresholds from analysts' decisions.", no_args_is_help=True)


@thresholds_app.command("suggest")
def suggest_cmd(
    min_recall: float = typer.Option(0.95, help="Share of confirmed items a suggested threshold must keep."),
    min_decisions: int = typer.Option(5, min=1, help="Confirmed items a collection needs for a suggestion."),
    step: float = typer.Option(0.05, help="Spacing of the candidate thresholds shown."),
    notify_precision: float = typer.Option(
        0.9, help="Share of notified items that must have been confirmed (the notify level: e-mail, Slack)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the reports as JSON."),
) -> None:
    """Precision / recall per candidate threshold, overall and per collection, with suggestions."""
    with running() as (_, db, _urls):
        reports = suggest(
            db, min_recall=min_recall, min_decisions=min_decisions, step=step, notify_precision=notify_precision
        )
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in reports], indent=1))
        return
    console = Console()
    if not reports[0].confirmed + reports[0].dismissed:
        console.print("no confirmed or dismissed review items yet: nothing to learn from")
        return
    for r in reports:
        table = Table("threshold", "precision", "recall", "confirmed kept", "dismissed kept")
        for p in r.points:
            table.add_row(
                f"{p.threshold:.2f}",
                f"{p.precision:.3f}",
                f"{p.recall:.3f}",
                str(p.confirmed),
                str(p.dismissed),
            )
        console.print(f"\n[bold]{escape(r.collection)}[/bold]: {r.confirmed} confirmed, {r.dismissed} dismissed")
        console.print(table)
        if r.suggested is not None:
            s = r.suggested
            console.print(
                f"suggested review (queue) threshold {s.threshold:.4f}: precision {s.precision:.3f}, "
                f"recall {s.recall:.3f} ({s.dismissed} of {r.dismissed} false alarms left)"
            )
            if r.notify is not None:
                n = r.notify
                console.print(
                    f"suggested notify threshold {n.threshold:.4f}: precision {n.precision:.3f}, recall {n.recall:.3f} "
                    f"({n.dismissed} of {r.dismissed} false alarms would still send a notice)"
                )
        else:
            console.print(f"no suggestion: {escape(r.reason)}")
    overall = reports[0].notify
    if overall is not None:
        console.print(
            f"\nnotify level for lootwatch.toml / the environment: LOOTWATCH_NOTIFY_THRESHOLD={overall.threshold:.4f}"
        )
    snippet = toml_snippet(reports)
    if snippet:
        console.print("\nper-collection thresholds for lootwatch.toml:")
        console.print(escape(snippet), highlight=False)
    console.print(
        "note: recall counts only items that were alerted; matches below the threshold in force never reached the queue"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(thresholds_app, name="thresholds")
