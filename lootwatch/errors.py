"""The one exception base of lootwatch.

Every component raises a subclass of :class:`LootwatchError` for conditions a user can fix
(bad input, missing configuration); the CLI prints those as one clear line and exits 2.
``models`` imports nothing of ours, so it has its own ``models.errors.ModelError``; the CLI
treats it the same way (see :data:`USER_ERRORS`).
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


def user_errors() -> tuple[type[Exception], ...]:
    """Exception types the CLI reports as a clear one-line message instead of a traceback."""
    from models.errors import ModelError

    return (LootwatchError, ModelError)
