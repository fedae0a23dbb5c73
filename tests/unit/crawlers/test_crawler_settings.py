"""Scrapy settings of a crawl: no control doors, the site's delay with jitter, quiet logs."""

from __future__ import annotations

from pathlib import Path

from lootwatch.crawlers.settings import crawler_settings
from lootwatch.crawlers.sites import SiteConfig

from lootwatch.core.settings import Settings


def test_a_crawl_opens_no_control_server_and_logs_no_versions(tmp_path: Path) -> None:
    s = crawler_settings(Settings(data_dir=tmp_path).crawl, SiteConfig("s", ["https://a.example/"]))
    assert s.getbool("REMOTE_CONTROL_ENABLED") is False and s.getbool("TELNETCONSOLE_ENABLED") is False
    assert s.getlist("LOG_VERSIONS") == [] and s.getbool("LOG_INSTALL_ROOT_HANDLER") is False


def test_the_sites_delay_is_the_download_delay_with_jitter_only_when_there_is_one(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, download_delay_s=2.0)
    polite = crawler_settings(settings.crawl, SiteConfig("s", ["https://a.example/"], download_delay=5.0))
    assert polite.getfloat("DOWNLOAD_DELAY") == 5.0 and polite.getfloat("DOWNLOAD_DELAY_JITTER") == 0.5
    default = crawler_settings(settings.crawl, SiteConfig("s", ["https://a.example/"]))
    assert default.getfloat("DOWNLOAD_DELAY") == 2.0
    local = crawler_settings(settings.crawl, SiteConfig("s", ["http://127.0.0.1/"], download_delay=0.0))
    assert local.getfloat("DOWNLOAD_DELAY") == 0.0 and local.getfloat("DOWNLOAD_DELAY_JITTER") == 0.0
