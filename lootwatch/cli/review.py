"""``lootwatch review list|show|decide``: the review queue from the terminal."""

from __future__ import annotations

import getpass
import json
from enum import StrEnum
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lootwatch.alerts.review import count_items, decide, list_items, show_item
from lootwatch.alerts.states import allowed_actions
from lootwatch.cli.context import running
from lootwatch.core.db import Database
from lootwatch.core.errors import BadInputError, NotFoundError, StateError

review_app = typer.Typer(help="Review possible matches: list, show, decide.", no_args_is_help=True)


class Action(StrEnum):
    confirm = "confirm"
    dismiss = "dismiss"
    escalate = "escalate"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


def _cell(value: object) -> str:
    # listing fields come from auction pages: never let them carry rich markup
    return escape("" if value is None else str(value))


@review_app.command("list")
def list_cmd(
    state: str | None = typer.Option(None, help="new, confirmed, dismissed or escalated."),
    limit: int = typer.Option(50, min=1, help="Items shown."),
    site: str | None = typer.Option(None, help="Only listings of this site."),
) -> None:
    """Review items, newest first."""
    with running() as (_, db, _urls):
        rows = list_items(db, state=state, limit=limit, site=site)
        total = count_items(db, state=state, site=site)
    table = Table("id", "state", "score", "artefact", "site", "title", "price", "created")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["state"],
            f"{r['score']:.3f}",
            _cell(r["artefact_id"]),
            _cell(r["site"]),
            _cell(r["title"])[:60],
            _cell(r["price_text"]),
            f"{r['created_at']:%Y-%m-%d %H:%M}",
        )
    console = Console()
    console.print(table)
    console.print(f"{len(rows)} of {total} item(s)")


@review_app.command("show")
def show_cmd(item_id: int = typer.Argument(..., help="Review item id.")) -> None:
    """One item: listing, artefact, scores, photos, evidence and decisions."""
    with running() as (_, db, _urls):
        d = show_item(db, item_id)
    item, listing, artefact = d["item"], d["listing"], d["artefact"]
    console = Console()
    head = Table.grid(padding=(0, 2))
    for label, value in (
        ("item", f"{item['id']}  state {item['state']}  score {item['score']:.3f}"),
        ("listing", listing["title"]),
        ("url", listing["url"]),  # the URL the crawler fetched
        # a rel=canonical the page supplied: the seller's word, never the listing's link
        *([("canonical (seller's claim)", claimed)] if (claimed := listing.get("claimed_canonical_url")) else []),
        ("site", listing["site"]),
        ("price", listing["price_text"]),
        ("seller", listing["seller"]),
        ("sale date", listing["sale_date"]),
        ("artefact", f"{artefact['id']} {artefact['title']}"),
        ("collection", artefact["collection"]),
        ("provenance", artefact["provenance"]),
        ("actions", ", ".join(allowed_actions(item["state"])) or "none (final)"),
    ):
        head.add_row(f"[bold]{label}[/bold]", _cell(value))
    console.print(head)

    matches = Table("photo", "score", "per model", "gallery photo", "model", title="matches")
    for m in d["matches"]:
        matches.add_row(
            str(m["photo_id"]),
            f"{m['score']:.3f}",
            _cell(json.dumps(m["scores"])),
            str(m["best_gallery_photo_id"] or ""),
            _cell(m["model_version"]),
        )
    console.print(matches)

    photos = Table("photo", "sha256", "size", "status", "source", title="listing photos")
    for p in d["listing_photos"]:
        size = f"{p['width']}x{p['height']}" if p["width"] else ""
        photos.add_row(str(p["id"]), p["sha256"][:16], size, p["status"], _cell(p["source_url"]))
    console.print(photos)

    if d["snapshots"]:
        snaps = Table("fetched", "http", "sha256", "url", title="page evidence")
        for s in d["snapshots"]:
            when = f"{s['fetched_at']:%Y-%m-%d %H:%M}"
            snaps.add_row(when, str(s["http_status"]), s["sha256"], _cell(s["url"]))
        console.print(snaps)

    history = Table("when", "actor", "from", "to", "comment", title="decisions")
    for x in d["decisions"]:
        history.add_row(
            f"{x['decided_at']:%Y-%m-%d %H:%M:%S}",
            _cell(x["actor"]),
            x["from_state"],
            x["to_state"],
            _cell(x["comment"]),
        )
    console.print(history)


@review_app.command("decide")
def decide_cmd(
    item_id: int = typer.Argument(..., help="Review item id."),
    action: Action = typer.Argument(..., help="confirm, dismiss or escalate."),
    comment: str = typer.Option(..., "--comment", "-m", help="Why (kept in the audit log)."),
    actor: str = typer.Option(
        None, help="The review-app account that decides (default: the OS user's name); it must exist and be enabled."
    ),
) -> None:
    """Confirm, dismiss or escalate an item as a review-app account; the decision is appended to the audit log.

    The web app's rules hold: the actor is an existing, enabled account, and only an admin settles
    (confirms or dismisses) an escalated item."""

    if not comment.strip():
        raise BadInputError("a decision needs a comment for the audit log (--comment / -m)")
    with running() as (_, db, _urls):
        account = _account(db, (actor or _os_user()).strip())
        state = _state(db, item_id)
        if state == "escalated" and account["role"] != "admin":
            raise StateError(
                f"review item {item_id} is escalated: only an admin settles it, and {account['username']!r} is an "
                f"{account['role']}"
            )
        # the state checked above must still hold when the decision is written
        d = decide(db, item_id, action.value, account["username"], comment.strip(), expect_state=state)
    typer.echo(f"review item {d.review_item_id}: {d.from_state} -> {d.to_state} by {d.actor}")


def _account(db: Database, name: str) -> dict[str, Any]:
    """The enabled review-app account ``name``; NotFoundError (naming the way out) otherwise."""
    row = db.fetchone("SELECT username, role, disabled_at FROM users WHERE username = %s", (name,))
    if row is None:
        raise NotFoundError(
            f"no account {name!r} in this database: decide as an existing account with --actor NAME "
            "(see `lootwatch users list`), or create one with `lootwatch users add NAME`"
        )
    if row["disabled_at"] is not None:
        raise StateError(f"account {name!r} is disabled: it can no longer decide")
    return dict(row)


def _state(db: Database, item_id: int) -> str:
    row = db.fetchone("SELECT state FROM review_items WHERE id = %s", (item_id,))
    if row is None:
        raise NotFoundError(f"review item {item_id} does not exist")
    return str(row["state"])


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")
