"""The review queue: list items, show one with its evidence, record an analyst's decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lootwatch.alerts.states import STATES, next_state

from lootwatch.core.db import Database
from lootwatch.core.errors import BadInputError, NotFoundError, StateError


@dataclass(frozen=True)
class Decision:
    id: int
    review_item_id: int
    actor: str
    from_state: str
    to_state: str
    comment: str
    decided_at: datetime


MAX_COMMENT = 4000  # characters: a paragraph or two for the audit log, one cap for the CLI and the web app

def decide(
    db: Database,
    item_id: int,
    action: str,
    actor: str,
    comment: str = "",
    expect_state: str | None = None,
) -> Decision:
    """Apply ``action`` to the item and append the audit row, in one transaction.

    The item row is locked (``FOR UPDATE``) so two analysts deciding at once are serialised: the
    second sees the first one's result and gets a :class:`StateError` if its action no longer
    applies. ``expect_state`` (the state the analyst was looking at) makes any intervening change
    an error too, so nobody confirms an item they saw as new after a colleague escalated it.
    """
    actor = actor.strip()
    if not actor:
        raise BadInputError("a decision needs an actor (who decided)")
    if len(comment) > MAX_COMMENT:
        raise BadInputError(
            f"the comment has {len(comment)} characters; at most {MAX_COMMENT} are kept in the audit log"
        )
    with db.transaction() as conn:
        row = conn.execute("SELECT state FROM review_items WHERE id = %s FOR UPDATE", (item_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"review item {item_id} does not exist")
        state: str = row["state"]  # type: ignore[call-overload]
        if expect_state is not None and state != expect_state:
            last = _last_decision(conn, item_id)
            by = f" by {last['actor']}" if last else ""
            raise StateError(f"review item {item_id} changed meanwhile: it is now {state}{by}, not {expect_state}")
        try:
            to_state = next_state(state, action)
        except StateError as exc:
            last = _last_decision(conn, item_id)
            by = f" (decided by {last['actor']} at {last['decided_at']:%Y-%m-%d %H:%M})" if last else ""
            raise StateError(f"review item {item_id}: {exc}{by}") from None
        conn.execute(
            """UPDATE review_items SET state = %s, updated_at = now(), assignee = COALESCE(assignee, %s)
               WHERE id = %s""",
            (to_state, actor, item_id),
        )
        d = conn.execute(
            """INSERT INTO decisions (review_item_id, actor, from_state, to_state, comment)
               VALUES (%s, %s, %s, %s, %s) RETURNING *""",
            (item_id, actor, state, to_state, comment),
        ).fetchone()
    assert d is not None
    return Decision(
        id=d["id"],  # type: ignore[call-overload]
        review_item_id=item_id,
        actor=actor,
        from_state=state,
        to_state=to_state,
        comment=comment,
        decided_at=d["decided_at"],  # type: ignore[call-overload]
    )


def _last_decision(conn: Any, item_id: int) -> dict | None:
    return conn.execute(
        "SELECT actor, decided_at FROM decisions WHERE review_item_id = %s ORDER BY id DESC LIMIT 1",
        (item_id,),
    ).fetchone()


_LIST_SQL = """
SELECT r.id, r.state, r.score, r.created_at, r.updated_at, r.assignee,
       r.artefact_id, a.title AS artefact_title, a.collection,
       r.listing_id, l.title, l.url, l.price_text, l.seller, s.name AS site,
       m.photo_id AS listing_photo_id, lp.stored_path AS listing_photo_path,
       m.best_gallery_photo_id AS gallery_photo_id, gp.stored_path AS gallery_photo_path,
       max(r.created_at) OVER (PARTITION BY r.listing_id) AS listing_latest
FROM review_items r
LEFT JOIN matches m ON m.id = r.best_match_id
LEFT JOIN listing_photos lp ON lp.id = m.photo_id
LEFT JOIN artefact_photos gp ON gp.id = m.best_gallery_photo_id
JOIN listings l ON l.id = r.listing_id
JOIN sources s ON s.id = l.source_id
JOIN artefacts a ON a.id = r.artefact_id
"""


def _where(
    state: str | None,
    site: str | None,
    collection: str | None,
    artefact_id: str | None,
    min_score: float | None,
    since: datetime | None,
    until: datetime | None,
) -> tuple[str, list[Any]]:
    if state is not None and state not in STATES:
        raise BadInputError(f"unknown state {state!r} (expected one of: {', '.join(STATES)})")
    clauses: list[str] = []
    params: list[Any] = []
    for sql, value in (
        ("r.state = %s", state),
        ("s.name = %s", site),
        ("a.collection = %s", collection),
        ("r.artefact_id = %s", artefact_id),
        ("r.score >= %s", min_score),
        ("r.created_at >= %s", since),
        ("r.created_at < %s", until),
    ):
        if value is not None and value != "":
            clauses.append(sql)
            params.append(value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def list_items(
    db: Database,
    state: str | None = None,
    limit: int = 50,
    offset: int = 0,
    *,
    site: str | None = None,
    collection: str | None = None,
    artefact_id: str | None = None,
    min_score: float | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict]:
    """Review items with their listing, artefact and best match's photos; every filter is optional.

    Newest first, the items of one listing next to each other (best score first): a listing whose
    photos match several artefacts is one block for the analyst."""
    if limit < 1:
        raise BadInputError("limit must be at least 1")
    where, params = _where(state, site, collection, artefact_id, min_score, since, until)
    return db.fetchall(
        _LIST_SQL + where + " ORDER BY listing_latest DESC, r.listing_id DESC, r.score DESC, r.id DESC"
        " LIMIT %s OFFSET %s",
        [*params, limit, max(offset, 0)],
    )


def count_items(
    db: Database,
    state: str | None = None,
    *,
    site: str | None = None,
    collection: str | None = None,
    artefact_id: str | None = None,
    min_score: float | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """How many items :func:`list_items` would page through with the same filters."""
    where, params = _where(state, site, collection, artefact_id, min_score, since, until)
    row = db.fetchone(f"SELECT count(*) AS n FROM ({_LIST_SQL}{where}) q", params)
    return int(row["n"]) if row else 0


def show_item(db: Database, item_id: int) -> dict:
    """One item with everything an analyst needs to decide.

    Keys: ``item``, ``listing`` (url, title, price, seller, site ...), ``artefact``, ``matches``
    (best first, with per-model scores and the best gallery photo), ``listing_photos``,
    ``artefact_photos``, ``snapshots`` (page evidence hashes), ``decisions`` (oldest first) and
    ``notifications``.
    """
    item = db.fetchone("SELECT * FROM review_items WHERE id = %s", (item_id,))
    if item is None:
        raise NotFoundError(f"review item {item_id} does not exist")
    listing = db.fetchone(
        """SELECT l.*, s.name AS site, s.base_url AS site_url
           FROM listings l JOIN sources s ON s.id = l.source_id WHERE l.id = %s""",
        (item["listing_id"],),
    )
    artefact = db.fetchone("SELECT * FROM artefacts WHERE id = %s", (item["artefact_id"],))
    matches = db.fetchall(
        """SELECT m.id, m.photo_id, m.rank, m.score, m.scores, m.model_version, m.index_version, m.created_at,
                  m.best_gallery_photo_id, ap.stored_path AS gallery_stored_path, ap.sha256 AS gallery_sha256,
                  p.stored_path AS photo_stored_path, p.sha256 AS photo_sha256
           FROM matches m
           JOIN listing_photo_links k ON k.photo_id = m.photo_id AND k.listing_id = %s
           JOIN listing_photos p ON p.id = m.photo_id
           LEFT JOIN artefact_photos ap ON ap.id = m.best_gallery_photo_id
           WHERE m.artefact_id = %s
           ORDER BY m.score DESC, m.id""",
        (item["listing_id"], item["artefact_id"]),
    )
    listing_photos = db.fetchall(
        """SELECT p.id, p.sha256, p.source_url, p.phash, p.stored_path, p.bytes, p.width, p.height,
                  p.status, p.reason, p.fetched_at, k.position
           FROM listing_photo_links k JOIN listing_photos p ON p.id = k.photo_id
           WHERE k.listing_id = %s ORDER BY k.position, p.id""",
        (item["listing_id"],),
    )
    artefact_photos = db.fetchall(
        """SELECT id, sha256, stored_path, source_name, width, height
           FROM artefact_photos WHERE artefact_id = %s ORDER BY id""",
        (item["artefact_id"],),
    )
    snapshots = db.fetchall(
        """SELECT id, url, sha256, stored_path, http_status, fetched_at
           FROM page_snapshots WHERE listing_id = %s ORDER BY fetched_at, id""",
        (item["listing_id"],),
    )
    decisions = db.fetchall("SELECT * FROM decisions WHERE review_item_id = %s ORDER BY decided_at, id", (item_id,))
    history = db.fetchall(
        "SELECT seen_at, field, old_value, new_value FROM listing_history WHERE listing_id = %s ORDER BY seen_at, id",
        (item["listing_id"],),
    )
    # other listings showing one of this listing's photos (relistings), and listings linked to this alert
    relistings = db.fetchall(
        """SELECT DISTINCT l.id, l.url, l.title, l.first_seen, s.name AS site
           FROM listing_photo_links mine
           JOIN listing_photo_links other ON other.photo_id = mine.photo_id AND other.listing_id <> mine.listing_id
           JOIN listings l ON l.id = other.listing_id
           JOIN sources s ON s.id = l.source_id
           WHERE mine.listing_id = %s
           UNION
           SELECT l.id, l.url, l.title, l.first_seen, s.name AS site
           FROM alert_links k JOIN listings l ON l.id = k.listing_id JOIN sources s ON s.id = l.source_id
           WHERE k.review_item_id = %s
           ORDER BY first_seen, id""",
        (item["listing_id"], item_id),
    )
    notifications = db.fetchall(
        """SELECT id, channel, status, attempts, last_error, idempotency_key, next_attempt_at, sent_at
           FROM notifications WHERE review_item_id = %s ORDER BY id""",
        (item_id,),
    )
    return {
        "item": item,
        "listing": listing,
        "artefact": artefact,
        "matches": matches,
        "listing_photos": listing_photos,
        "artefact_photos": artefact_photos,
        "snapshots": snapshots,
        "decisions": decisions,
        "history": history,
        "relistings": relistings,
        "notifications": notifications,
    }
