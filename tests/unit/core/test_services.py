"""Which database and Redis a command uses, said without leaking a password."""

from __future__ import annotations

from pathlib import Path

import pytest

from lootwatch.core.services import ServiceUrls, describe, mask_url
from lootwatch.core.settings import Settings


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://lw:s3cret@db:5432/lw", "postgresql://lw:***@db:5432/lw"),
        ("postgresql://lw:pa/ss@db/lw", "postgresql://lw:***@db/lw"),  # an unencoded "/" in the password
        ("postgresql://lw@db/lw?password=s3cret&sslmode=require", "postgresql://lw@db/lw?password=***&sslmode=require"),
        ("redis://:s3cret@redis:6379/0", "redis://:***@redis:6379/0"),
        ("user=lw password=s3cret host=/run/pg dbname=lw", "user=lw password=*** host=/run/pg dbname=lw"),
        ("user=lw password='s3 cret' host=db", "user=lw password=*** host=db"),
        ("unix:///tmp/redis.sock?db=0", "unix:///tmp/redis.sock?db=0"),
        ("redis://redis:6379/0", "redis://redis:6379/0"),
    ],
)
def test_passwords_are_masked(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_embedded_services_are_named_by_their_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(data_dir=tmp_path / "data")
    text = describe(settings, ServiceUrls("user=postgres host=/x/pgdata", "unix:///x/redis.socket"))
    assert text == (
        "database: embedded PostgreSQL under ./data/services/postgres; "
        "redis: embedded Redis under ./data/services/redis"
    )


def test_configured_services_are_named_by_their_masked_url(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url="postgresql://lw:s3cret@db:5432/lw",
        redis_url="redis://:pw@redis:6379/0",
    )
    text = describe(settings, ServiceUrls(settings.database_url or "", settings.redis_url or ""))
    assert text == (
        "database: postgresql://lw:***@db:5432/lw (LOOTWATCH_DATABASE_URL); "
        "redis: redis://:***@redis:6379/0 (LOOTWATCH_REDIS_URL)"
    )
    assert "s3cret" not in text and "pw@" not in text
