"""Sites file parsing errors, SSRF refusal, robots.txt Crawl-delay rule."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from lootwatch.crawlers.safety import (
    HostVerdicts,
    UnsafeURLError,
    check_url,
    polite_delay,
    private_hosts_of,
    robots_crawl_delay,
)
from lootwatch.crawlers.sites import load_sites, parse_cadence

from lootwatch.core.errors import ConfigError, LootwatchError


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "sites.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_bundled_sites_file_loads() -> None:
    sites = load_sites()
    assert sites and all(s.start_urls and s.cadence_s > 0 for s in sites.values())


def test_site_entry_fields(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        """[sites.demo-plain]
start_urls = ["http://127.0.0.1:8000/plain/"]
allow_private = true
cadence = "30m"
max_pages = 3
download_delay = 0.5
[sites.demo-plain.selectors]
title = "h1.lot-title::text"
photos = "div.lot-gallery a::attr(href)"
""",
    )
    s = load_sites(p)["demo-plain"]
    assert s.allow_private and s.adapter == "generic" and s.cadence_s == 1800 and s.max_pages == 3
    assert s.selectors["title"] == "h1.lot-title::text" and s.download_delay == 0.5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[sites.a]\nstart_urls = 'x'", "start_urls must be a non-empty list"),
        ("[sites.a]\nstart_urls = ['ftp://x/']", "not an http(s) URL"),
        ("[sites.a]\nstart_urls = ['https://x/']\nadapter = 'nope'", "unknown adapter"),
        ("[sites.a]\nstart_urls = ['https://x/']\ncadence = 'weekly'", "bad cadence"),
        ("[sites.a]\nstart_urls = ['https://x/']\nspeed = 3", "unknown key"),
        ("[sites.a]\nstart_urls = ['https://x/']\n[sites.a.selectors]\ntitel = 'h1'", "unknown selector"),
        ("[sites.a\n", "not valid TOML"),
        ("[other]\nx = 1", "no [sites.<name>] tables"),
    ],
)
def test_sites_file_errors_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_sites(_write(tmp_path, text))


def test_missing_sites_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_sites(tmp_path / "nope.toml")


def test_cadence_units() -> None:
    assert (parse_cadence("1h"), parse_cadence("45s"), parse_cadence("2d")) == (3600, 45, 172800)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost:8000/x",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://0.0.0.0/",
        "file:///etc/passwd",
    ],
)
def test_internal_addresses_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURLError) as info:
        check_url(url)
    assert isinstance(info.value, LootwatchError)


def test_allow_private_lets_only_the_configured_hosts_through() -> None:
    allowed = private_hosts_of(["http://127.0.0.1:8000/plain/", "http://LOCALHOST:8000/catalogue/"])
    assert allowed == {"127.0.0.1:8000", "localhost:8000"}
    check_url("http://127.0.0.1:8000/plain/", private_hosts=allowed)
    check_url("http://localhost:8000/img/a.jpg", private_hosts=allowed)
    # a redirect or a photo URL naming any other internal address is refused as for any site
    for url in ("http://127.0.0.1:6379/", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1:8000/"):
        with pytest.raises(UnsafeURLError, match="internal address"):
            check_url(url, private_hosts=allowed)


@pytest.mark.parametrize("url", ["JAVASCRIPT:alert(1)", "DATA:image/png;base64,AAAA", "Ftp://x.example/a.jpg"])
def test_other_schemes_are_refused_in_any_case(url: str) -> None:
    with pytest.raises(UnsafeURLError, match="only http"):
        check_url(url, private_hosts=private_hosts_of(["http://127.0.0.1:8000/"]))


def test_public_address_literal_is_allowed() -> None:
    check_url("http://93.184.216.34/")  # a literal public IP: no DNS needed


def test_host_verdicts_are_reused_for_every_url_of_a_host() -> None:
    verdicts = HostVerdicts()
    for path in ("a", "b", "c"):
        with pytest.raises(UnsafeURLError, match=f"refused 'http://localhost:8000/{path}': localhost resolves"):
            check_url(f"http://localhost:8000/{path}", verdicts=verdicts)
    check_url("http://93.184.216.34/x", verdicts=verdicts)
    assert sorted(verdicts._kept) == [("93.184.216.34", 80), ("localhost", 8000)]  # one lookup per host
    with pytest.raises(UnsafeURLError, match="does not resolve"):
        check_url("http://no-such-host.invalid/", verdicts=verdicts)
    assert ("no-such-host.invalid", 80) not in verdicts._kept  # asked again next time


def test_crawl_delay_is_the_larger_of_ours_and_theirs() -> None:
    robots = "User-agent: *\nCrawl-delay: 7\nDisallow: /private/\n"
    theirs = robots_crawl_delay(robots, "lootwatch/0.1")
    assert theirs == 7.0
    assert polite_delay(1.0, theirs) == 7.0
    assert polite_delay(10.0, theirs) == 10.0
    assert polite_delay(1.0, robots_crawl_delay("User-agent: *\nCrawl-delay: 0\n", "lootwatch")) == 1.0
    assert robots_crawl_delay("User-agent: *\nDisallow:\n", "lootwatch") is None


def test_spider_callbacks_return_no_values() -> None:
    """Scrapy's own check (reading the source of every generator callback) is off in the crawler's
    settings: this test makes it once instead."""
    from lootwatch.crawlers.spiders.listing import ListingSpider
    from scrapy.utils.misc import is_generator_with_return_value

    callbacks = [getattr(ListingSpider, name) for name in dir(ListingSpider) if not name.startswith("__")]
    generators = [c for c in callbacks if callable(c) and inspect.isgeneratorfunction(c)]
    assert {c.__name__ for c in generators} >= {"parse", "photo", "photo_failed", "_search", "_item"}
    assert not [c.__name__ for c in generators if is_generator_with_return_value(c)]
