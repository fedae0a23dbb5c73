"""Errors of the matcher package: all are :class:`LootwatchError`, so the CLI prints them as one line."""

from __future__ import annotations

from lootwatch.core.errors import BadInputError, LootwatchError, NotFoundError


class IndexMismatchError(LootwatchError):
    """A gallery index was built by another descriptor than the one in use."""


class IndexNotFoundError(NotFoundError):
    """No (complete) gallery index where one was expected."""


class BenchmarkError(BadInputError):
    """A benchmark folder does not follow the layout of BENCHMARK.md."""
