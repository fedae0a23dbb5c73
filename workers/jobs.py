"""RQ jobs: module-level, JSON-able arguments, idempotent (running one twice changes nothing)."""

from __future__ import annotations

from workers.context import current
from workers.matching import match_batch


def match_photo(photo_id: int) -> dict:
    """Match a listing photo (and whatever else is queued, as one batch) against the gallery."""
    return match_batch(current(), int(photo_id)).to_dict()
