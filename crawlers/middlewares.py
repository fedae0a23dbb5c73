"""Downloader middlewares: SSRF refusal, robots.txt Crawl-delay, backoff on 429/503 (shared: politeness.py)."""

from __future__ import annotations

import logging
from typing import Any

from lootwatch.crawlers.politeness import delay_floors, share_floor
from lootwatch.crawlers.safety import (
    HostVerdicts,
    UnsafeURLError,
    check_url,
    polite_delay,
    private_hosts_of,
    robots_crawl_delay,
)
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import Response

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 120.0
SSRF_REFUSAL = "SSRF guard"


def slot_of(crawler: Crawler, request: Request) -> Any:
    downloader = crawler.engine.downloader  # type: ignore[union-attr]
    key = downloader.get_slot_key(request)
    return key, downloader.slots.get(key)


class SafetyMiddleware:
    """Refuse requests (redirect targets included) to internal addresses; a site with ``allow_private``
    may reach its own configured hosts only. A refusal is an IgnoreRequest whose message starts
    with :data:`SSRF_REFUSAL`, which the spider records with the URL."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.verdicts = HostVerdicts()
        self._private: frozenset[str] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SafetyMiddleware:
        return cls(crawler)

    def private_hosts(self) -> frozenset[str]:
        if self._private is None:
            site = getattr(self.crawler.spider, "site", None)
            self._private = (
                private_hosts_of(site.start_urls) if site is not None and site.allow_private else frozenset()
            )
        return self._private

    def process_request(self, request: Request) -> None:
        try:
            check_url(request.url, private_hosts=self.private_hosts(), verdicts=self.verdicts)
        except UnsafeURLError as exc:
            log.warning("%s", exc)
            raise IgnoreRequest(f"{SSRF_REFUSAL}: {exc}") from exc


class PoliteDelayMiddleware:
    """Applies robots.txt Crawl-delay (the larger of ours and theirs) and backs off on 429/503.

    Delay floors are kept per download slot on the crawler; :class:`PoliteThrottle` never goes below them.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.user_agent = crawler.settings.get("USER_AGENT", "")
        self.ours = crawler.settings.getfloat("DOWNLOAD_DELAY", 0.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PoliteDelayMiddleware:
        return cls(crawler)

    def _raise_floor(self, request: Request, delay: float, *, pause: bool = False) -> None:
        key, slot = slot_of(self.crawler, request)
        floors = delay_floors(self.crawler)
        floors[key] = max(floors.get(key, 0.0), delay)
        if slot is not None:
            slot.delay = max(slot.delay, floors[key])
        share_floor(self.crawler, key, delay, pause_s=delay if pause else 0.0)  # other processes on the domain

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if request.url.endswith("/robots.txt") and response.status == 200:
            theirs = robots_crawl_delay(response.text, self.user_agent)
            delay = polite_delay(self.ours, theirs)
            if theirs:
                log.info("robots.txt of %s asks Crawl-delay %s; using %.1fs", request.url, theirs, delay)
            self._raise_floor(request, delay)
            return response
        if response.status in (429, 503):
            return self.back_off(request, response.headers.get("Retry-After"), f"HTTP {response.status}") or response
        return response

    def back_off(self, request: Request, retry_after: Any, why: str) -> Request | None:
        """Double the site's delay and retry the request later; None once retries are spent."""
        tries = request.meta.get("lw_backoff", 0)
        if tries >= 3:
            return None
        key, slot = slot_of(self.crawler, request)
        current = slot.delay if slot is not None else self.ours
        wanted = max(current * 2, 1.0)
        try:
            wanted = max(wanted, float(retry_after.decode() if isinstance(retry_after, bytes) else retry_after))
        except (TypeError, ValueError):
            pass
        self._raise_floor(request, min(wanted, MAX_BACKOFF_S), pause=True)
        log.warning("%s on %s: backing off to %.1fs between requests", why, request.url, min(wanted, MAX_BACKOFF_S))
        retry = request.replace(dont_filter=True, priority=request.priority - 1)
        retry.meta["lw_backoff"] = tries + 1
        return retry


class PoliteThrottle(AutoThrottle):
    """AutoThrottle that never drops a slot's delay below its robots/backoff floor."""

    def _adjust_delay(self, slot: Any, latency: float, response: Response) -> None:
        super()._adjust_delay(slot, latency, response)
        slots = self.crawler.engine.downloader.slots  # type: ignore[union-attr]
        key = next((k for k, v in slots.items() if v is slot), None)
        floor = delay_floors(self.crawler).get(key) if key else None
        if floor:
            slot.delay = max(slot.delay, floor)
