"""Login throttling: per account and per client, so password guessing is slow and argon2 is not
a lever to load the machine.

After ``account_limit`` failures for one username (since its last successful login, within
``window_s``), or ``client_limit`` failures from one client address (within ``window_s``), each
further attempt must wait ``base_delay_s * 2**(extra failures)`` seconds (at most ``max_delay_s``)
after the latest failure. An attempt made while waiting is refused with 429 before any password is
checked, logged, and recorded as ``throttled`` in ``login_attempts``. On top of that at most
``verify_slots`` password checks run at once; an attempt finding none free within a few seconds
is refused (503) instead of queueing more argon2 work.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from lootwatch.core.db import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refusal:
    status: int  # 429 throttled, 503 busy
    retry_after_s: int
    message: str


@dataclass
class LoginThrottle:
    account_limit: int = 5
    client_limit: int = 20
    window_s: int = 900
    base_delay_s: float = 30.0
    max_delay_s: float = 900.0
    verify_slots: int = 2
    _slots: threading.BoundedSemaphore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(self.verify_slots)

    def check(self, db: Database, username: str, client: str) -> Refusal | None:
        """A refusal when this attempt must wait (and it is recorded as throttled), else None."""
        row = db.fetchone(
            """WITH last_ok AS (
                   SELECT max(attempted_at) AS at FROM login_attempts WHERE username = %(u)s AND outcome = 'ok'
               )
               SELECT
                 (SELECT count(*) FROM login_attempts, last_ok
                   WHERE username = %(u)s AND outcome = 'failed'
                     AND attempted_at > now() - make_interval(secs => %(w)s)
                     AND (last_ok.at IS NULL OR attempted_at > last_ok.at)) AS account_failures,
                 (SELECT max(attempted_at) FROM login_attempts
                   WHERE username = %(u)s AND outcome = 'failed') AS account_last,
                 (SELECT count(*) FROM login_attempts
                   WHERE client = %(c)s AND outcome = 'failed'
                     AND attempted_at > now() - make_interval(secs => %(w)s)) AS client_failures,
                 (SELECT max(attempted_at) FROM login_attempts
                   WHERE client = %(c)s AND outcome = 'failed') AS client_last,
                 now() AS now""",
            {"u": username, "c": client, "w": self.window_s},
        )
        assert row is not None
        waits = []
        for scope, failures, limit, last in (
            ("account", row["account_failures"], self.account_limit, row["account_last"]),
            ("client", row["client_failures"], self.client_limit, row["client_last"]),
        ):
            if failures >= limit and last is not None:
                delay = min(self.max_delay_s, self.base_delay_s * 2 ** (failures - limit))
                left = delay - (row["now"] - last).total_seconds()
                if left > 0:
                    waits.append((left, scope, failures))
        if not waits:
            return None
        left, scope, failures = max(waits)
        self.record(db, username, client, "throttled")
        log.warning(
            "login throttled",
            extra={"action": "web.login_throttled", "username": username, "client": client, "scope": scope,
                   "failures": failures, "retry_after_s": round(left)},
        )  # fmt: skip
        seconds = max(1, round(left + 0.5))
        return Refusal(429, seconds, f"Too many failed logins for this {scope}; try again in {seconds} s.")

    def record(self, db: Database, username: str, client: str, outcome: str) -> None:
        db.execute(
            "INSERT INTO login_attempts (username, client, outcome) VALUES (%s, %s, %s)",
            (username[:200], client[:200], outcome),
        )
        if outcome == "failed":
            log.warning("login failed", extra={"action": "web.login_failed", "username": username[:200],
                                               "client": client})  # fmt: skip

    @contextmanager
    def verify_slot(self, wait_s: float = 5.0) -> Iterator[bool]:
        """True while holding one of the password-check slots; False when none came free in time."""
        got = self._slots.acquire(timeout=wait_s)
        try:
            yield got
        finally:
            if got:
                self._slots.release()
