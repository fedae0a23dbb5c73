"""Settings read from the environment: value parsing and the refusals a user sees."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from lootwatch.core.errors import BadInputError
from lootwatch.core.queueing import TRAINING_QUEUE
from lootwatch.core.settings import Settings
from lootwatch.core.values import parse_scales


def test_parse_scales() -> None:
    assert parse_scales("0.75, 1,1.25") == (0.75, 1.0, 1.25)
    assert parse_scales("1") == (1.0,)
    with pytest.raises(BadInputError, match="numbers separated by commas"):
        parse_scales("0.75;1")
    with pytest.raises(BadInputError, match="at least one"):
        parse_scales(" , ")


def test_gallery_scales_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOTWATCH_GALLERY_SCALES", "0.8, 1")
    assert Settings().gallery_scales == (0.8, 1.0)


def test_photo_queue_may_not_be_a_reserved_queue() -> None:
    with pytest.raises(ValidationError, match="reserved"):
        Settings(queue_name=TRAINING_QUEUE)
    assert Settings(queue_name="photos-eu").queue_name == "photos-eu"


def test_each_component_gets_its_own_frozen_part(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOOTWATCH_DOWNLOAD_DELAY_S", "2.5")
    monkeypatch.setenv("LOOTWATCH_SMTP_HOST", "mail.example")
    s = Settings(data_dir=tmp_path)
    assert s.crawl.download_delay_s == 2.5 and s.notices.smtp_host == "mail.example"
    assert s.notices.store_dir == tmp_path / "store" and s.web.data_dir == tmp_path
    assert s.alerts.alert_top_k == s.alert_top_k and s.matching.gallery_scales == s.gallery_scales
    assert not hasattr(s.crawl, "smtp_host")  # a part holds only what its component reads
    with pytest.raises(ValidationError):
        s.crawl.download_delay_s = 0.0  # type: ignore[misc]
