"""Server-side sessions of the review app.

The signed cookie carries a random token; the database keeps the token's SHA-256, its user and
when it ends. A session is live only while its row is not ended, not expired, and its user is not
disabled, so ending the rows logs a user out everywhere at once: a copied cookie stops working.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass

from lootwatch.core.db import Database

log = logging.getLogger(__name__)

SESSION_HOURS = 8
# last_seen_at is refreshed at most this often, so browsing is not one write per request
_TOUCH_EVERY_S = 60


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    session_id: int

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(db: Database, user_id: int, client: str) -> str:
    """A new session for ``user_id``; returns the token to put in the cookie."""
    token = secrets.token_urlsafe(32)
    db.execute(
        """INSERT INTO web_sessions (token_sha256, user_id, client, expires_at)
           VALUES (%s, %s, %s, now() + make_interval(hours => %s))""",
        (_digest(token), user_id, client[:200], SESSION_HOURS),
    )
    return token


def session_user(db: Database, token: object) -> User | None:
    """The user of a live session, or None (no such token, ended, expired, or the account disabled)."""
    if not isinstance(token, str) or not token:
        return None
    row = db.fetchone(
        """SELECT s.id AS session_id, s.last_seen_at < now() - make_interval(secs => %s) AS stale,
                  u.id, u.username, u.role
           FROM web_sessions s JOIN users u ON u.id = s.user_id
           WHERE s.token_sha256 = %s AND s.ended_at IS NULL AND s.expires_at > now() AND u.disabled_at IS NULL""",
        (_TOUCH_EVERY_S, _digest(token)),
    )
    if row is None:
        return None
    if row["stale"]:
        db.execute("UPDATE web_sessions SET last_seen_at = now() WHERE id = %s", (row["session_id"],))
    return User(row["id"], row["username"], row["role"], row["session_id"])


def end_sessions(db: Database, user_id: int, reason: str) -> int:
    """End every live session of ``user_id``; returns how many were ended."""
    rows = db.fetchall(
        """UPDATE web_sessions SET ended_at = now(), ended_reason = %s
           WHERE user_id = %s AND ended_at IS NULL RETURNING id""",
        (reason, user_id),
    )
    if rows:
        log.info("sessions ended", extra={"action": "web.sessions_ended", "user_id": user_id, "reason": reason,
                                          "sessions": len(rows)})  # fmt: skip
    return len(rows)


def live_sessions(db: Database) -> dict[int, int]:
    """user id -> number of live sessions."""
    rows = db.fetchall(
        """SELECT user_id, count(*) AS n FROM web_sessions
           WHERE ended_at IS NULL AND expires_at > now() GROUP BY user_id"""
    )
    return {int(r["user_id"]): int(r["n"]) for r in rows}
