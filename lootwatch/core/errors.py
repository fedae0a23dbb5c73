"""The one exception base of lootwatch.

Every component raises a subclass of :class:`LootwatchError` for conditions a user can fix
(bad input, missing configuration); the CLI prints those as one clear line and exits 2.
A component's own errors (``lootwatch.models.errors.ModelError``, ...) subclass one of these.
:class:`ServiceUnavailable` is a server (PostgreSQL, Redis) that does not answer, distinct from a
:class:`ConfigError`: retrying later can fix the first, only a changed setting the second.
"""

from __future__ import annotations


class LootwatchError(Exception):
    """Base of every error lootwatch reports to a user."""


class ConfigError(LootwatchError):
    """Settings are missing or inconsistent."""


class BadInputError(LootwatchError):
    """Input (a file, a folder, a CSV, an image) cannot be used; the message says why."""


class NotFoundError(LootwatchError):
    """A referenced record (artefact, review item, index) does not exist."""


class StateError(LootwatchError):
    """An operation is not allowed in the record's current state."""


class ServiceUnavailable(LootwatchError):
    """A server lootwatch needs (PostgreSQL, Redis) does not answer; the message names it and its URL."""


def user_errors() -> tuple[type[Exception], ...]:
    """Exception types the CLI and the web app report as a clear message instead of a traceback."""
    return (LootwatchError,)
