"""Parsing of setting values written as text (environment variables, CLI options)."""

from __future__ import annotations

from lootwatch.core.errors import BadInputError


def parse_scales(text: str) -> tuple[float, ...]:
    """``"0.75,1,1.25"`` -> (0.75, 1.0, 1.25), as the setting and ``--gallery-scales`` are written."""
    try:
        scales = tuple(float(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        raise BadInputError(f"gallery scales: expected numbers separated by commas, got {text!r}") from None
    if not scales:
        raise BadInputError("gallery scales: give at least one scale (1: embed gallery photos once)")
    return scales
