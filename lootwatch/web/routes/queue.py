"""The review queue: filtered, paged, one block per listing with its alerts."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from lootwatch.alerts.review import count_items, list_items
from lootwatch.alerts.states import STATES
from lootwatch.core.errors import BadInputError
from lootwatch.core.storage import BlobStore
from lootwatch.web.deps import Ctx, CurrentUser
from lootwatch.web.pages import render
from lootwatch.web.stored import is_stored

router = APIRouter()
PAGE_SIZE = 25
# dates an analyst can mean; beyond them Python's and PostgreSQL's calendars are the limit, not the data
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


@router.get("/")
def home() -> Response:
    return RedirectResponse("/alerts", status_code=303)


@router.get("/alerts")
def queue(
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    state: str = "",
    site: str = "",
    collection: str = "",
    min_score: str = "",
    since: str = "",
    until: str = "",
    page: int = 1,
) -> Response:
    filters = {"state": state, "site": site, "collection": collection, "min_score": min_score,
               "since": since, "until": until}  # fmt: skip
    error = None
    try:
        query = parse_filters(filters)
        total = count_items(ctx.db, **query)
        pages = max(1, -(-total // PAGE_SIZE))
        page = max(1, min(page, pages))
        rows = list_items(ctx.db, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **query)
    except BadInputError as exc:
        error, rows, total, page, pages = f"Bad filter: {exc}", [], 0, 1, 1
    active = {k: v for k, v in filters.items() if v}
    return render(
        request,
        "queue.html",
        400 if error else 200,
        groups=group_by_listing(rows, ctx.store),
        total=total,
        page=page,
        pages=pages,
        filters=filters,
        error=error,
        states=STATES,
        sites=[r["name"] for r in ctx.db.fetchall("SELECT name FROM sources ORDER BY name")],
        collections=[
            r["collection"]
            for r in ctx.db.fetchall("SELECT DISTINCT collection FROM artefacts WHERE collection <> '' ORDER BY 1")
        ],
        prev_url="/alerts?" + urlencode({**active, "page": page - 1}) if page > 1 else None,
        next_url="/alerts?" + urlencode({**active, "page": page + 1}) if page < pages else None,
    )


def parse_filters(filters: dict[str, str]) -> dict[str, Any]:
    """The queue's query-string filters as :func:`list_items` arguments; :class:`BadInputError` says which is wrong."""
    score = None
    if filters["min_score"]:
        try:
            score = float(filters["min_score"])
        except ValueError:
            raise BadInputError(f"score: {filters['min_score'][:40]!r} is not a number") from None
        if not math.isfinite(score):
            raise BadInputError("score: must be a finite number")
    if filters["state"] and filters["state"] not in STATES:
        raise BadInputError(f"state: {filters['state'][:40]!r} is not one of {', '.join(STATES)}")
    return {
        "state": filters["state"] or None,
        "site": filters["site"] or None,
        "collection": filters["collection"] or None,
        "min_score": score,
        "since": _day("from", filters["since"]),
        "until": _day("to", filters["until"], next_day=True),
    }


def _day(label: str, text: str, *, next_day: bool = False) -> datetime | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise BadInputError(f"{label}: {text[:40]!r} is not a date (YYYY-MM-DD)") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadInputError(f"{label}: {day} is out of range ({FIRST_DAY} to {LAST_DAY})")
    return datetime.combine(day + timedelta(days=1 if next_day else 0), time(), tzinfo=UTC)


def group_by_listing(rows: list[dict], store: BlobStore) -> list[dict]:
    """Rows of one listing gathered under it, in the order the listings first appear; each row
    says whether its thumbnails have a stored photo behind them."""
    groups: dict[int, dict] = {}
    for r in rows:
        r["listing_thumb"] = is_stored(store, r["listing_photo_path"])
        r["gallery_thumb"] = is_stored(store, r["gallery_photo_path"])
        g = groups.setdefault(r["listing_id"], {"listing": r, "alerts": []})
        g["alerts"].append(r)
    return list(groups.values())
