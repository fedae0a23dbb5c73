"""What extraction returns: one JSON-able record per page."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lootwatch.crawlers.extract.text import photo_refusal

# page types: a blocked page must be retried later, never read as "no results"
ITEM, SEARCH, BLOCKED, NOT_FOUND, NEEDS_JS, UNKNOWN = (
    "item",
    "search",
    "blocked",
    "not_found",
    "needs_js",
    "unknown",
)


@dataclass
class SearchResult:
    url: str
    item_id: str = ""
    title: str = ""
    price_text: str = ""
    thumb: str = ""  # as shown on the search page
    image: str = ""  # largest variant of that photo, where the site's URL scheme allows it


@dataclass
class PageResult:
    url: str
    page_type: str = UNKNOWN
    adapter: str = "generic"
    canonical_url: str = ""
    title: str = ""
    item_id: str = ""
    price_text: str = ""
    amount: float | None = None
    currency: str | None = None
    seller: str = ""
    sale_date: str = ""
    status: str = "unknown"  # open, sold, ended, unknown
    description: str = ""
    photos: list[str] = field(default_factory=list)  # full-size photos of this listing only
    # photo URLs the page gives for this listing that are never fetched (a javascript: or data: scheme):
    # {"url", "reason"}, each recorded by the spider as a refused photo
    refused_photos: list[dict[str, str]] = field(default_factory=list)
    results: list[SearchResult] = field(default_factory=list)
    next_page: str = ""
    reason: str = ""  # why blocked / not_found / needs_js
    extra: dict[str, Any] = field(default_factory=dict)
    # which adapter or rule produced each field ("title": "JSON-LD Product.name", "photos": "markup gallery")
    sources: dict[str, str] = field(default_factory=dict)
    # how sure the generic rules are of the photos (1.0 where an adapter or site selectors gave them);
    # needs_review with its reasons where a person should check before trusting the page's photos
    confidence: float = 1.0
    needs_review: bool = False
    review_reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def refuse_photos(self, urls: list[str]) -> None:
        """Record photo URLs of this listing that are never fetched, each with its reason."""
        seen = {r["url"] for r in self.refused_photos}
        for url in urls:
            if url and url not in seen:
                seen.add(url)
                self.refused_photos.append({"url": url, "reason": photo_refusal(url)})

    def review(self, reason: str) -> None:
        """Mark the page for a person to check, saying why."""
        self.needs_review = True
        if reason not in self.review_reasons:
            self.review_reasons.append(reason)

    @property
    def has_item_data(self) -> bool:
        return bool(self.title or self.photos or self.price_text)
