"""What the spider hands to the pipeline."""

from __future__ import annotations

from dataclasses import dataclass

from crawlers.extract.result import PageResult


@dataclass
class ListingItem:
    page: PageResult
    body: bytes
    http_status: int
    changed: bool  # False: same content hash as stored, only last_seen is updated


@dataclass
class PhotoItem:
    item_id: str  # the listing's site item id
    url: str
    position: int
    data: bytes | None
    error: str = ""
