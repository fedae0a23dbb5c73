"""Errors of the models package."""

from __future__ import annotations

from lootwatch.core.errors import BadInputError


class ModelError(BadInputError, ValueError):
    """A model, card or checkpoint cannot be built or used; the message says why."""
