"""The sites file: which auction sites to crawl and how (TOML, ``[sites.<name>]`` tables)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lootwatch.crawlers.extract import ADAPTERS
from lootwatch.crawlers.extract.selectors import SELECTOR_KEYS

from lootwatch.core.errors import ConfigError

BUNDLED_SITES = Path(__file__).with_name("sites.toml")
_CADENCE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class SiteConfig:
    name: str
    start_urls: list[str]
    adapter: str = "generic"
    needs_js: bool = False
    cadence: str = "6h"
    selectors: dict[str, str] = field(default_factory=dict)
    allow_private: bool = False  # local test/demo sites only
    max_pages: int = 50  # search pages followed per run
    download_delay: float | None = None  # None: settings.download_delay_s
    refetch_after: str = "1d"  # an unchanged search card skips its item page until then ("0s": never skip)
    concurrency: int = 2  # requests in flight to the site at once

    @property
    def refetch_after_s(self) -> float:
        return parse_cadence(self.refetch_after)

    @property
    def cadence_s(self) -> float:
        return parse_cadence(self.cadence)

    @property
    def base_url(self) -> str:
        p = urlsplit(self.start_urls[0])
        return f"{p.scheme}://{p.netloc}/"


def parse_cadence(text: str) -> float:
    m = _CADENCE.match(str(text).strip().lower())
    if not m:
        raise ConfigError(f"bad cadence {text!r}: use a number and a unit s, m, h or d (e.g. '1h', '30m')")
    return float(m.group(1)) * _UNITS[m.group(2)]


def load_sites(path: Path | None = None) -> dict[str, SiteConfig]:
    """Sites of ``path`` (default: the bundled file); ConfigError names the file and the problem."""
    path = path or BUNDLED_SITES
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"sites file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    sites = data.get("sites")
    if not isinstance(sites, dict) or not sites:
        raise ConfigError(f"{path}: no [sites.<name>] tables")
    return {name: _site(path, name, entry) for name, entry in sites.items()}


_FIELDS = {
    "start_urls",
    "adapter",
    "needs_js",
    "cadence",
    "selectors",
    "allow_private",
    "max_pages",
    "download_delay",
    "refetch_after",
    "concurrency",
}


def _site(path: Path, name: str, entry: Any) -> SiteConfig:
    where = f"{path}: [sites.{name}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(entry) - _FIELDS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(_FIELDS))})")
    urls = entry.get("start_urls")
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
        raise ConfigError(f"{where}: start_urls must be a non-empty list of URLs")
    for u in urls:
        if urlsplit(u).scheme not in ("http", "https") or not urlsplit(u).hostname:
            raise ConfigError(f"{where}: start URL {u!r} is not an http(s) URL")
    adapter = entry.get("adapter", "generic")
    if adapter not in ADAPTERS:
        raise ConfigError(f"{where}: unknown adapter {adapter!r} (known: {', '.join(sorted(ADAPTERS))})")
    selectors = entry.get("selectors", {})
    if not isinstance(selectors, dict) or not all(isinstance(v, str) for v in selectors.values()):
        raise ConfigError(f"{where}: selectors must be a table of strings")
    bad = set(selectors) - SELECTOR_KEYS
    if bad:
        raise ConfigError(
            f"{where}: unknown selector(s) {', '.join(sorted(bad))} (known: {', '.join(sorted(SELECTOR_KEYS))})"
        )
    cadence = str(entry.get("cadence", "6h"))
    parse_cadence(cadence)
    max_pages = entry.get("max_pages", 50)
    if not isinstance(max_pages, int) or max_pages < 1:
        raise ConfigError(f"{where}: max_pages must be a positive integer")
    refetch_after = str(entry.get("refetch_after", "1d"))
    parse_cadence(refetch_after)
    concurrency = entry.get("concurrency", 2)
    if not isinstance(concurrency, int) or not 1 <= concurrency <= 64:
        raise ConfigError(f"{where}: concurrency must be an integer from 1 to 64")
    delay = entry.get("download_delay")
    if delay is not None and (not isinstance(delay, int | float) or delay < 0):
        raise ConfigError(f"{where}: download_delay must be a number of seconds >= 0")
    return SiteConfig(
        name=name,
        start_urls=list(urls),
        adapter=adapter,
        needs_js=bool(entry.get("needs_js", False)),
        cadence=cadence,
        selectors=dict(selectors),
        allow_private=bool(entry.get("allow_private", False)),
        max_pages=max_pages,
        download_delay=float(delay) if delay is not None else None,
        refetch_after=refetch_after,
        concurrency=concurrency,
    )
