"""Riding out a Redis or PostgreSQL outage: which errors are transient, and retrying with backoff.

A worker must outlive a restart of either server: a job whose database went away mid-batch is
rolled back by PostgreSQL and retried here; the RQ loop that lost Redis is restarted by
:func:`workers.process.run_worker`. Each retry is logged with a stable action.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg
import redis

from lootwatch.core.errors import ConfigError
from lootwatch.core.metrics import ERRORS

log = logging.getLogger(__name__)
T = TypeVar("T")


def transient_reason(exc: BaseException) -> str | None:
    """'postgres' or 'redis' when ``exc`` means that server is (for now) unreachable, else None."""
    if isinstance(exc, psycopg.OperationalError):
        return "postgres"
    if isinstance(exc, ConfigError) and isinstance(exc.__cause__, psycopg.OperationalError):
        return "postgres"  # lootwatch.core.db.connect wraps a refused connection
    if isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        return "redis"
    return None


class Backoff:
    """Exponential delays: first, doubled per failure, capped; reset after a success."""

    def __init__(self, first_s: float = 0.5, cap_s: float = 15.0) -> None:
        self.first_s, self.cap_s = first_s, cap_s
        self.delay = first_s

    def next(self) -> float:
        delay = self.delay
        self.delay = min(self.cap_s, self.delay * 2)
        return delay

    def reset(self) -> None:
        self.delay = self.first_s


def retry_transient(fn: Callable[[], T], what: str, *, give_up_after_s: float = 300.0, first_s: float = 0.5) -> T:
    """Call ``fn`` until it succeeds; transient server errors are retried with backoff, others raised."""
    backoff = Backoff(first_s)
    deadline = time.monotonic() + give_up_after_s
    while True:
        try:
            return fn()
        except Exception as exc:
            reason = transient_reason(exc)
            if reason is None or time.monotonic() >= deadline:
                raise
            delay = backoff.next()
            log.warning(
                "%s: %s unavailable, retrying in %.1fs",
                what,
                reason,
                delay,
                extra={
                    "action": f"{reason}.unavailable",
                    "during": what,
                    "retry_in_s": delay,
                    "error": str(exc)[:200],
                },
            )
            ERRORS.labels(f"{reason}_unavailable").inc()
            time.sleep(delay)
