"""Errors of the models package (which imports nothing else of lootwatch)."""

from __future__ import annotations


class ModelError(ValueError):
    """A model, card or checkpoint cannot be built or used; the message says why."""
