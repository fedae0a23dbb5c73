"""Scrapy settings built from the crawl part of the settings and a site entry (no settings.py module magic)."""

from __future__ import annotations

import shutil
from typing import Any

from lootwatch.crawlers.sites import SiteConfig
from scrapy.settings import Settings as ScrapySettings

from lootwatch.core.settings_parts import CrawlSettings

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",  # small /dev/shm in containers crashes renderers
    "--renderer-process-limit=4",  # bounded renderers: memory of a long crawl stays flat
]
# Outputs of ONE response handled at once. Scrapy starts that many asyncio tasks for every response
# (default 100), which cost more than extracting the page; a callback yields one listing and its
# photo requests, or a search page's links, so a few at a time keep up.
CONCURRENT_ITEMS = 8
PLAYWRIGHT_HANDLER = "lootwatch.crawlers.browser.LazyPlaywrightHandler"  # Chromium started only when a page needs it


def chromium_path(crawl: CrawlSettings) -> str:
    return crawl.chromium_path or shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"


def process_settings() -> dict[str, Any]:
    """Settings of the one CrawlerProcess (the reactor is chosen here, once per process)."""
    return {
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "TELNETCONSOLE_ENABLED": False,
        # Scrapy 2.19's HTTP server that runs Python code sent to it (localhost, token in a job file):
        # nothing of ours uses it, and a crawler for the police runs no such door
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_LEVEL": "INFO",  # LogStats lines are the progress of a long crawl
        "LOG_INSTALL_ROOT_HANDLER": False,  # the CLI's handler prints them
        "LOG_VERSIONS": [],  # no dump of library versions at every crawl's start
        "STATS_DUMP": False,  # the CLI prints a per-site summary instead
    }


def crawler_settings(crawl: CrawlSettings, site: SiteConfig) -> ScrapySettings:
    """Per-site crawler settings: politeness, safety limits, playwright, the store pipeline."""
    delay = max(crawl.download_delay_s if site.download_delay is None else site.download_delay, 0.0)
    values: dict[str, Any] = {
        **process_settings(),
        "BOT_NAME": "lootwatch",
        "USER_AGENT": crawl.user_agent,
        "ROBOTSTXT_OBEY": True,
        "ROBOTSTXT_USER_AGENT": crawl.user_agent,
        "DOWNLOAD_DELAY": delay,
        "DOWNLOAD_DELAY_JITTER": 0.5 if delay > 0 else 0.0,  # each delay 0.5-1.5x ours
        "CONCURRENT_REQUESTS": max(16, site.concurrency),
        "CONCURRENT_REQUESTS_PER_DOMAIN": site.concurrency,
        "CONCURRENT_ITEMS": CONCURRENT_ITEMS,
        # Scrapy reads a generator callback's source (inspect + ast) to warn about `return value`, and its
        # cache keyed by bound methods misses again and again (about 4 ms each); the spider's callbacks
        # return no values, and a unit test says so
        "WARN_ON_GENERATOR_RETURN_VALUE": False,
        # no delay asked (a local site): nothing to throttle; robots.txt Crawl-delay still applies
        "AUTOTHROTTLE_ENABLED": delay > 0,
        "AUTOTHROTTLE_START_DELAY": max(delay, 0.5) if delay > 0 else 0.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
        "AUTOTHROTTLE_MAX_DELAY": 60.0,
        "EXTENSIONS": {
            "scrapy.extensions.throttle.AutoThrottle": None,
            "lootwatch.crawlers.middlewares.PoliteThrottle": 0,
        },
        "DOWNLOAD_MAXSIZE": crawl.max_page_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "DOWNLOAD_TIMEOUT": 60,
        "REDIRECT_MAX_TIMES": 5,
        "RETRY_TIMES": 2,
        "RETRY_HTTP_CODES": [500, 502, 504, 522, 524, 408],  # 429/503 back off in PoliteDelayMiddleware
        "COOKIES_ENABLED": False,
        "DOWNLOADER_MIDDLEWARES": {
            "lootwatch.crawlers.middlewares.SafetyMiddleware": 50,
            "lootwatch.crawlers.middlewares.PoliteDelayMiddleware": 580,
        },
        "ITEM_PIPELINES": {"lootwatch.crawlers.pipelines.StorePipeline": 300},
        "DOWNLOAD_HANDLERS": {"http": PLAYWRIGHT_HANDLER, "https": PLAYWRIGHT_HANDLER},
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": {"executable_path": chromium_path(crawl), "args": CHROMIUM_ARGS},
        "PLAYWRIGHT_MAX_CONTEXTS": 2,  # contexts bounded; pages are closed after each response
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": 4,
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": 30_000,
    }
    return ScrapySettings(values)
