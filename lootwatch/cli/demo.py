"""``lootwatch demo``: run the whole pipeline locally and print what it found."""

from __future__ import annotations

from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.table import Table

from lootwatch.cli.context import running
from lootwatch.demo.run import StageFailed, run_demo


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        workers: int = typer.Option(2, help="Worker processes."),
        classifier: bool = typer.Option(
            False, help="Also train the instance classifier on the gallery and fuse its scores (slower)."
        ),
    ) -> None:
        """Synthetic gallery + local auction site -> crawl -> queue -> match -> alerts -> notices."""
        console = Console()
        with running() as (s, _db, urls):
            try:
                outcome = run_demo(
                    s, urls, workers=workers, classifier=classifier, say=lambda m: console.print(f"[bold]{m}[/bold]")
                )
            except StageFailed as exc:
                console.print(f"[red]demo failed at stage {exc}[/red]")
                raise typer.Exit(1) from exc

        site = urlsplit(outcome.rows[0].url).netloc if outcome.rows else ""
        table = Table(
            f"listing (http://{site})", "matched artefact", "score", "alert state", "expected", title="lootwatch demo"
        )
        for r in outcome.rows:
            mark = "" if r.correct else " [red](wrong)[/red]"
            table.add_row(
                urlsplit(r.url).path,
                (r.artefact or "-") + mark,
                f"{r.score:.3f}" if r.score is not None else "-",
                r.state or "-",
                r.expected or "unprotected",
            )
        console.print(table)
        console.print(", ".join(f"{k}: {v}" for k, v in outcome.stages.items()))
        console.print(
            f"correct alerts {outcome.true_alerts}, false alerts {outcome.false_alerts}, missed {outcome.missed} "
            f"(of {sum(1 for r in outcome.rows if r.expected)} protected listings, {len(outcome.rows)} listings)"
        )
        if outcome.true_alerts == 0:
            console.print("[red]no protected listing was alerted[/red]")
            raise typer.Exit(1)
