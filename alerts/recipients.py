"""Notice recipients: who gets each alert at once, who gets a daily digest.

Rows of ``notice_recipients`` add to the settings' ``email_to`` / ``slack_webhook_url`` (which
stay immediate recipients of every alert). A daily recipient's digest lists the alerts created
since its previous digest; the digest row and the recipient's ``digest_until`` cursor are written
in one transaction, and the idempotency key ``digest:<recipient>:<day>`` allows one per day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lootwatch.alerts.messages import render_digest
from psycopg.types.json import Jsonb

from lootwatch.core.db import Conn, Database
from lootwatch.core.errors import BadInputError
from lootwatch.core.settings import Settings

CHANNELS = ("email", "slack")
MODES = ("immediate", "daily")
DIGEST_MAX_ITEMS = 200  # listed in one digest; the rest are counted
# a worker's transaction may commit a little after its created_at: the day's digest waits for them
DIGEST_GRACE = timedelta(minutes=2)


@dataclass(frozen=True)
class DigestStats:
    written: int = 0  # digest notices queued now
    empty: int = 0  # daily recipients with nothing new (cursor moved on, nothing sent)


def validate(channel: str, address: str, mode: str) -> str:
    """The address, trimmed; raises :class:`BadInputError` when it cannot work for the channel."""
    address = address.strip()
    if channel not in CHANNELS:
        raise BadInputError(f"channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
    if mode not in MODES:
        raise BadInputError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if channel == "email":
        local, _, domain = address.partition("@")
        if not local or "." not in domain or any(c in address for c in " ,;<>\r\n"):
            raise BadInputError(f"not an email address: {address!r}")
    elif not address.lower().startswith(("https://", "http://")) or any(c.isspace() for c in address):
        raise BadInputError(f"a Slack recipient is an incoming-webhook URL (https://...), not {address!r}")
    return address


def add_recipient(
    db: Database, channel: str, address: str, mode: str = "immediate", collection: str | None = None
) -> int:
    address = validate(channel, address, mode)
    with db.transaction() as conn:
        clash = conn.execute(
            """SELECT id FROM notice_recipients WHERE active AND channel = %s AND lower(address) = lower(%s)
               AND coalesce(collection, '') = coalesce(%s, '')""",
            (channel, address, collection or None),
        ).fetchone()
        if clash is not None:
            raise BadInputError(f"{channel} {address} is already recipient {clash['id']} for this collection")  # type: ignore[call-overload]
        row = conn.execute(
            """INSERT INTO notice_recipients (channel, address, mode, collection)
               VALUES (%s, %s, %s, %s) RETURNING id""",
            (channel, address, mode, collection or None),
        ).fetchone()
    assert row is not None
    return int(row["id"])  # type: ignore[call-overload]


def list_recipients(db: Database, *, include_removed: bool = False) -> list[dict[str, Any]]:
    where = "" if include_removed else "WHERE active"
    return db.fetchall(f"SELECT * FROM notice_recipients {where} ORDER BY id")


def remove_recipient(db: Database, recipient_id: int) -> bool:
    """Stop notices to a recipient (the row stays: sent notices name it); False if none was active."""
    with db.transaction() as conn:
        cur = conn.execute("UPDATE notice_recipients SET active = false WHERE id = %s AND active", (recipient_id,))
        return cur.rowcount == 1


def immediate_recipients(conn: Conn, collection: str) -> list[dict[str, Any]]:
    """Active immediate recipients whose filter lets an alert on ``collection`` through."""
    rows = conn.execute(
        """SELECT id, channel, address FROM notice_recipients
           WHERE active AND mode = 'immediate' AND (collection IS NULL OR collection = %s)
           ORDER BY id""",
        (collection,),
    ).fetchall()
    return list(rows)  # type: ignore[arg-type]


def digest_key(recipient_id: int, day: str) -> str:
    return f"digest:{recipient_id}:{day}"


def enqueue_digests(
    db: Database, settings: Settings, now: datetime | None = None, *, force: bool = False
) -> DigestStats:
    """Queue the digests that are due at ``now`` (default: the clock), one per daily recipient and day.

    Due: the day (UTC) before ``now`` has ended (plus :data:`DIGEST_GRACE`). ``force`` sends today's
    digest now, covering alerts up to ``now``; alerts after it go into the next day's digest.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    day = now.date().isoformat()
    cutoff = now if force else datetime.combine(now.date(), datetime.min.time(), UTC)
    if not force and now < cutoff + DIGEST_GRACE:
        return DigestStats()  # yesterday's late commits may still land: its digests wait a little
    written = empty = 0
    with db.transaction() as conn:
        # locked while we work: two `lootwatch notify` processes never build the same digest
        recipients = conn.execute(
            """SELECT id, channel, address, collection,
                      coalesce(digest_until, date_trunc('day', created_at, 'UTC')) AS since
               FROM notice_recipients WHERE active AND mode = 'daily'
               ORDER BY id FOR UPDATE SKIP LOCKED""",
        ).fetchall()
        for r in recipients:
            rec: dict[str, Any] = dict(r)  # type: ignore[call-overload]
            if rec["since"] >= cutoff:
                continue
            key = digest_key(rec["id"], day)
            if conn.execute("SELECT 1 FROM notifications WHERE idempotency_key = %s", (key,)).fetchone():
                continue  # today's digest went out already (forced earlier): the rest waits for tomorrow
            if rec["channel"] == "email" and not settings.smtp_host:
                continue  # kept until email is configured: the cursor does not move
            items, more = _digest_items(conn, rec["collection"], rec["since"], cutoff)
            if items:
                body = render_digest(day, items, settings.review_base_url, key, more)
                payload: dict[str, Any] = {"idempotency_key": key, "digest": day, "items": len(items) + more}
                if rec["channel"] == "email":
                    payload |= {"subject": body["subject"], "text": body["text"], "html": body["html"],
                                "to": [rec["address"]]}  # fmt: skip
                else:
                    payload |= {"slack": body["slack"], "webhook_url": rec["address"]}
                conn.execute(
                    """INSERT INTO notifications (channel, payload, idempotency_key, recipient_id)
                       VALUES (%s, %s, %s, %s)""",
                    (rec["channel"], Jsonb(payload), key, rec["id"]),
                )
                written += 1
            else:
                empty += 1
            conn.execute("UPDATE notice_recipients SET digest_until = %s WHERE id = %s", (cutoff, rec["id"]))
    return DigestStats(written, empty)


def _digest_items(conn: Conn, collection: str | None, since: datetime, until: datetime) -> tuple[list[dict], int]:
    rows = conn.execute(
        """SELECT r.id AS review_item_id, r.score, r.artefact_id, a.title AS artefact_title, a.collection,
                  l.title, l.url, l.price_text, l.seller, s.name AS site, count(*) OVER () AS total
           FROM review_items r
           JOIN listings l ON l.id = r.listing_id
           JOIN sources s ON s.id = l.source_id
           JOIN artefacts a ON a.id = r.artefact_id
           WHERE r.created_at >= %s AND r.created_at < %s AND (%s::text IS NULL OR a.collection = %s)
           ORDER BY r.score DESC, r.id
           LIMIT %s""",
        (since, until, collection, collection, DIGEST_MAX_ITEMS),
    ).fetchall()
    items = [dict(r) for r in rows]  # type: ignore[call-overload]
    total = int(items[0]["total"]) if items else 0
    return items, total - len(items)
