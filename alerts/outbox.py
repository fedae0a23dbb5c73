"""The transactional outbox: notices are written with the review item, delivered later.

Writing them in the worker's own transaction means a review item never exists without its
notices, and a notice never exists for an item that was rolled back. Immediate recipients are
the settings' ``email_to`` / ``slack_webhook_url`` plus the active immediate rows of
``notice_recipients`` (:mod:`alerts.recipients`); daily ones get a digest instead.

Photos travel as references (sha256, stored path): the sender reads and shrinks them at send
time, so the payload stays small.
"""

from __future__ import annotations

from lootwatch.alerts.messages import item_link, render
from lootwatch.alerts.recipients import immediate_recipients
from psycopg.types.json import Jsonb

from lootwatch.core.db import Conn
from lootwatch.core.errors import NotFoundError
from lootwatch.core.settings import Settings


def channels(settings: Settings) -> list[str]:
    """Channels configured in ``settings``: email needs a host and recipients, Slack a webhook."""
    out = []
    if settings.smtp_host and settings.email_to:
        out.append("email")
    if settings.slack_webhook_url:
        out.append("slack")
    return out


MAX_LISTING_PHOTOS = 3  # inline in the email, beside the best gallery photo


def idempotency_key(review_item_id: int, channel: str, recipient_id: int | None = None) -> str:
    base = f"review:{review_item_id}:{channel}"
    return base if recipient_id is None else f"{base}:r{recipient_id}"


def photo_refs(conn: Conn, review_item_id: int) -> list[dict]:
    """The listing's first photos and the matched artefact's best gallery photo, as references."""
    listing = conn.execute(
        """SELECT p.id, p.sha256, p.stored_path FROM review_items r
           JOIN listing_photo_links k ON k.listing_id = r.listing_id
           JOIN listing_photos p ON p.id = k.photo_id
           WHERE r.id = %s AND p.stored_path <> '' AND p.status <> 'rejected'
           ORDER BY k.position, p.id LIMIT %s""",
        (review_item_id, MAX_LISTING_PHOTOS),
    ).fetchall()
    # the best match's gallery photo; an item without one shows the artefact's first photo
    gallery = conn.execute(
        """SELECT g.id, g.sha256, g.stored_path FROM review_items r
           LEFT JOIN matches m ON m.id = r.best_match_id
           JOIN artefact_photos g ON g.artefact_id = r.artefact_id
           WHERE r.id = %s
           ORDER BY (g.id = m.best_gallery_photo_id) DESC NULLS LAST, g.id LIMIT 1""",
        (review_item_id,),
    ).fetchall()
    refs = [{"role": "listing", **dict(p)} for p in listing]  # type: ignore[call-overload]
    refs += [{"role": "gallery", **dict(g)} for g in gallery]  # type: ignore[call-overload]
    return refs


def enqueue_notices(conn: Conn, review_item_id: int, settings: Settings) -> int:
    """Write one pending notice per immediate recipient on ``conn`` (the caller's transaction).

    Returns how many were written now; a notice already queued for the item and recipient is kept.
    """
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
    # (channel, recipient id or None for the settings' recipients, email addresses or webhook URL)
    targets: list[tuple[str, int | None, list[str] | str]] = []
    if "email" in channels(settings):
        targets.append(("email", None, list(settings.email_to)))
    if settings.slack_webhook_url:
        targets.append(("slack", None, settings.slack_webhook_url))
    taken = {a.lower() for a in settings.email_to} | {(settings.slack_webhook_url or "").lower()}
    for r in immediate_recipients(conn, fields["collection"]):  # type: ignore[call-overload]
        if r["address"].lower() in taken or (r["channel"] == "email" and not settings.smtp_host):
            continue  # already a settings recipient; or email is not configured yet
        taken.add(r["address"].lower())
        targets.append((r["channel"], r["id"], [r["address"]] if r["channel"] == "email" else r["address"]))
    if not targets:
        return 0
    link = item_link(settings.review_base_url, review_item_id)
    photos = photo_refs(conn, review_item_id) if any(t[0] == "email" for t in targets) else []
    written = 0
    for channel, recipient_id, address in targets:
        key = idempotency_key(review_item_id, channel, recipient_id)
        body = render(fields, link, key)  # type: ignore[arg-type]
        payload: dict = {"idempotency_key": key, "review_item_id": review_item_id, "link": link}
        if channel == "email":
            payload |= {
                "subject": body["subject"],
                "text": body["text"],
                "html": body["html"],
                "to": address,
                "photos": photos,
            }
        else:
            payload |= {"slack": body["slack"]}
            if recipient_id is not None:
                payload["webhook_url"] = address
        cur = conn.execute(
            """INSERT INTO notifications (channel, review_item_id, payload, idempotency_key, recipient_id)
               VALUES (%s, %s, %s, %s, %s) ON CONFLICT (idempotency_key) DO NOTHING""",
            (channel, review_item_id, Jsonb(payload), key, recipient_id),
        )
        written += cur.rowcount
    return written
