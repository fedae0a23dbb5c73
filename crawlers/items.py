"""What the spider hands to the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from lootwatch.crawlers.extract.result import PageResult


@dataclass(repr=False)
class ListingItem:
    page: PageResult
    body: bytes
    http_status: int
    changed: bool  # False: same content hash as stored, only last_seen is updated
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __repr__(self) -> str:  # Scrapy logs items: keep page bodies out of the log
        return f"ListingItem({self.page.item_id!r}, {self.page.url!r}, changed={self.changed})"


@dataclass(repr=False)
class PhotoItem:
    item_id: str  # the listing's site item id
    url: str
    position: int
    data: bytes | None
    error: str = ""

    def __repr__(self) -> str:
        size = len(self.data) if self.data is not None else 0
        error = f", {self.error}" if self.error else ""
        return f"PhotoItem({self.item_id!r}, {self.url!r}, {size} bytes{error})"


@dataclass
class SeenItem:
    """Listings seen unchanged on a search page: only their last_seen moves."""

    item_ids: list[str]
