"""The transactional outbox: notices are written with the review item, delivered later.

Writing them in the worker's own transaction means a review item never exists without its
notices, and a notice never exists for an item that was rolled back.
"""

from __future__ import annotations

from psycopg.types.json import Jsonb

from alerts.messages import item_link, render
from lootwatch.db import Conn
from lootwatch.errors import NotFoundError
from lootwatch.settings import Settings


def channels(settings: Settings) -> list[str]:
    """Channels configured in ``settings``: email needs a host and recipients, Slack a webhook."""
    out = []
    if settings.smtp_host and settings.email_to:
        out.append("email")
    if settings.slack_webhook_url:
        out.append("slack")
    return out


def idempotency_key(review_item_id: int, channel: str) -> str:
    return f"review:{review_item_id}:{channel}"


def enqueue_notices(conn: Conn, review_item_id: int, settings: Settings) -> int:
    """Write one pending notice per configured channel on ``conn`` (the caller's transaction).

    Returns how many were written now; a notice already queued for the item and channel is kept.
    """
    wanted = channels(settings)
    if not wanted:
        return 0
    fields = conn.execute(
        """SELECT r.id AS review_item_id, r.score, r.artefact_id, a.title AS artefact_title, a.collection,
                  l.title, l.url, l.price_text, l.seller, s.name AS site
           FROM review_items r
           JOIN listings l ON l.id = r.listing_id
           JOIN sources s ON s.id = l.source_id
           JOIN artefacts a ON a.id = r.artefact_id
           WHERE r.id = %s""",
        (review_item_id,),
    ).fetchone()
    if fields is None:
        raise NotFoundError(f"review item {review_item_id} does not exist")
    link = item_link(settings.review_base_url, review_item_id)
    written = 0
    for channel in wanted:
        key = idempotency_key(review_item_id, channel)
        body = render(fields, link, key)  # type: ignore[arg-type]
        payload: dict = {"idempotency_key": key, "review_item_id": review_item_id, "link": link}
        if channel == "email":
            payload |= {
                "subject": body["subject"],
                "text": body["text"],
                "html": body["html"],
                "to": list(settings.email_to),
            }
        else:
            payload |= {"slack": body["slack"]}
        cur = conn.execute(
            """INSERT INTO notifications (channel, review_item_id, payload, idempotency_key)
               VALUES (%s, %s, %s, %s) ON CONFLICT (idempotency_key) DO NOTHING""",
            (channel, review_item_id, Jsonb(payload), key),
        )
        written += cur.rowcount
    return written
