"""Deliver the outbox: claim due notices, send them, record the outcome, retry with backoff.

A notice moves pending -> sending -> sent, or back to pending (exponential backoff) after a
failure, or to dead after ``settings.notice_max_attempts`` attempts. The claim is committed
before sending, so a slow SMTP server never holds row locks, and several senders can run at
once (``FOR UPDATE SKIP LOCKED``).

Delivery is at-least-once. While a row is 'sending', ``next_attempt_at`` holds the end of its
lease; a sender that crashed mid-send leaves the row there, and once the lease has run out the
next claim takes it again. The re-sent copy is recognisably the same notice: the email carries a
Message-ID derived from the idempotency key, the Slack message shows the key as its ``ref``.

Daily digests are queued into the same outbox by the sender loop (:func:`alerts.recipients.enqueue_digests`)
and then delivered like any notice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lootwatch.alerts.recipients import enqueue_digests
from lootwatch.alerts.senders import send_email, send_slack

from lootwatch.core.db import Database
from lootwatch.core.settings import Settings
from lootwatch.core.settings_parts import NoticeSettings

log = logging.getLogger(__name__)

Sender = Callable[[dict, NoticeSettings], None]
SENDERS: Mapping[str, Sender] = {"email": send_email, "slack": send_slack}

LEASE_S = 300.0  # longer than any sender's own timeout, so a live send is never reclaimed
DIGEST_CHECK_S = 60.0  # how often the sender loop looks for due daily digests


@dataclass
class DeliveryStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    reclaimed: int = 0  # claimed from a sender whose lease ran out (it may have sent already)
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliveryStats) -> None:
        self.claimed += other.claimed
        self.sent += other.sent
        self.retried += other.retried
        self.dead += other.dead
        self.reclaimed += other.reclaimed
        self.errors = (self.errors + other.errors)[-100:]  # a long-running sender keeps the latest only

    def summary(self) -> str:
        return f"{self.claimed} claimed: {self.sent} sent, {self.retried} to retry, {self.dead} dead" + (
            f", {self.reclaimed} reclaimed" if self.reclaimed else ""
        )


def backoff_s(settings: Settings, attempts: int) -> float:
    """Delay before the next try after ``attempts`` failed ones: base, 2x base, 4x base ..."""
    return settings.notice_backoff_s * 2 ** max(attempts - 1, 0)


def _claim(db: Database, settings: Settings, limit: int, lease_s: float) -> tuple[list[dict], int]:
    with db.transaction() as conn:
        # rows out of attempts (a crash during the last one, or a lowered maximum) can only die
        expired = conn.execute(
            """UPDATE notifications
               SET status = 'dead',
                   last_error = CASE WHEN status = 'sending'
                                THEN 'lease expired during the last attempt (outcome unknown); ' || last_error
                                ELSE last_error END
               WHERE status IN ('pending', 'sending') AND next_attempt_at <= now() AND attempts >= %s""",
            (settings.notice_max_attempts,),
        ).rowcount
        rows = conn.execute(
            """WITH due AS (
                 SELECT id, status AS was FROM notifications
                 WHERE status IN ('pending', 'sending') AND next_attempt_at <= now() AND attempts < %s
                 ORDER BY next_attempt_at, id
                 LIMIT %s
                 FOR UPDATE SKIP LOCKED)
               UPDATE notifications n
               SET status = 'sending', attempts = n.attempts + 1,
                   next_attempt_at = now() + make_interval(secs => %s)
               FROM due WHERE n.id = due.id
               RETURNING n.id, n.channel, n.payload, n.attempts, n.idempotency_key, due.was""",
            (settings.notice_max_attempts, limit, lease_s),
        ).fetchall()
    return list(rows), expired  # type: ignore[arg-type]


def _record(db: Database, settings: Settings, row: dict, error: str | None, stats: DeliveryStats) -> None:
    guard = "WHERE id = %s AND status = 'sending' AND attempts = %s"  # untouched since our claim
    with db.transaction() as conn:
        if error is None:
            conn.execute(
                f"UPDATE notifications SET status = 'sent', sent_at = now(), last_error = '' {guard}",
                (row["id"], row["attempts"]),
            )
            stats.sent += 1
            return
        stats.errors.append(f"{row['idempotency_key']}: {error}")
        if row["attempts"] >= settings.notice_max_attempts:
            conn.execute(
                f"UPDATE notifications SET status = 'dead', last_error = %s {guard}",
                (error, row["id"], row["attempts"]),
            )
            stats.dead += 1
            log.error("notice %s dead after %d attempts: %s", row["idempotency_key"], row["attempts"], error)
            return
        conn.execute(
            f"""UPDATE notifications SET status = 'pending', last_error = %s,
                   next_attempt_at = now() + make_interval(secs => %s) {guard}""",
            (error, backoff_s(settings, row["attempts"]), row["id"], row["attempts"]),
        )
        stats.retried += 1
        log.warning("notice %s attempt %d failed: %s", row["idempotency_key"], row["attempts"], error)


def deliver_due(
    db: Database,
    settings: Settings,
    limit: int = 100,
    *,
    lease_s: float = LEASE_S,
    senders: Mapping[str, Sender] = SENDERS,
) -> DeliveryStats:
    """Send up to ``limit`` due notices once each; failures are rescheduled, never raised."""
    rows, expired = _claim(db, settings, limit, lease_s)
    stats = DeliveryStats(claimed=len(rows), dead=expired)
    for row in rows:
        if row["was"] == "sending":
            stats.reclaimed += 1
            log.warning("notice %s reclaimed after its lease ran out", row["idempotency_key"])
        error: str | None = None
        try:
            send = senders.get(row["channel"])
            if send is None:
                raise ValueError(f"no sender for channel {row['channel']!r}")
            send(row["payload"], settings.notices)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded on the row and retried
            error = str(exc) or exc.__class__.__name__
        _record(db, settings, row, error, stats)
    return stats


def utc_now() -> datetime:
    return datetime.now(UTC)


def run_sender(
    db: Database,
    settings: Settings,
    stop_event: threading.Event,
    poll_s: float = 2.0,
    *,
    limit: int = 100,
    on_round: Callable[[DeliveryStats], None] | None = None,
    clock: Callable[[], datetime] = utc_now,
    digest_check_s: float = DIGEST_CHECK_S,
) -> DeliveryStats:
    """Queue due daily digests and deliver until ``stop_event`` is set; returns the totals."""
    total = DeliveryStats()
    next_digest_check = 0.0
    while not stop_event.is_set():
        try:
            if time.monotonic() >= next_digest_check:
                enqueue_digests(db, settings, clock())
                next_digest_check = time.monotonic() + digest_check_s
            stats = deliver_due(db, settings, limit)
        except Exception:  # noqa: BLE001 - a database hiccup must not end the sender
            log.exception("delivering notices failed; trying again in %.1fs", poll_s)
            stop_event.wait(poll_s)
            continue
        total.add(stats)
        if on_round is not None and stats.claimed:
            on_round(stats)
        if stats.claimed < limit:  # a full batch means more may be due right now
            stop_event.wait(poll_s)
    return total
