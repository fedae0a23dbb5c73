"""The download handler: plain HTTP, and Chromium (scrapy-playwright) only once a page asks for it."""

from __future__ import annotations

import asyncio

from lootwatch.crawlers.politeness import take_turn
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler


class LazyPlaywrightHandler(ScrapyPlaywrightDownloadHandler):
    """scrapy-playwright starts its Playwright driver when the engine starts, on every crawl; most
    sites never need a browser, and that start-up (a Node process) cost a plain-HTML crawl CPU and
    memory for nothing. Here the driver starts with the first request that needs JavaScript."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._started = False
        self._start_lock = asyncio.Lock()

    async def _maybe_launch_in_thread(self) -> None:
        """Connected to engine_started by the base class: deliberately nothing (see the class)."""

    async def _start_driver(self) -> None:
        async with self._start_lock:
            if not self._started:
                await self._maybe_future_from_coro(self._launch())
                self._started = True

    async def download_request(self, request: Request) -> Response:
        await take_turn(self.crawler, request)  # the domain's shared pace, just before the request goes
        if request.meta.get("playwright") and not self._started:
            await self._start_driver()
        return await super().download_request(request)
