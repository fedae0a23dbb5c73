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
    # what was changed in the page's fields to store them ("title: 1 NUL replaced with U+FFFD"),
    # recorded beside the listing (crawlers.safety_text)
    notes: list[str] = field(default_factory=list)

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


@dataclass
class RefusedPage:
    """A page the crawl refused or could not fetch, with the reason: a ``rejections`` row of kind 'page'."""

    url: str
    reason: str
