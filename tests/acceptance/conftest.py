"""Acceptance tests: whole user-visible flows (crawl -> queue -> worker -> alerts -> notices), as an
operator runs them, on the real servers of tests/conftest.py. Slow; `make test-acceptance` runs them
alone, and `-m "not acceptance"` leaves them out."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.acceptance)
