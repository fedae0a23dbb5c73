"""The alert rule's pure parts: thresholds per collection, settings."""

from __future__ import annotations

import pytest
from lootwatch.alerts.rules import AlertRules

from lootwatch.core.errors import ConfigError
from lootwatch.core.settings import Settings


def test_collection_threshold_overrides_the_global_one() -> None:
    rules = AlertRules(threshold=0.8, collection_thresholds={"Kabul": 0.9})
    assert rules.threshold_for("Kabul") == 0.9
    assert rules.threshold_for("Baghdad") == 0.8
    assert rules.threshold_for("") == 0.8


def test_rules_from_settings_keep_the_historic_rule_by_default() -> None:
    rules = AlertRules.from_settings(Settings(), 0.75)
    assert (rules.threshold, rules.top_k, rules.min_agreeing_photos) == (0.75, 1, 1)
    assert dict(rules.collection_thresholds) == {}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("top_k", 0, "alert_top_k"), ("min_agreeing_photos", 0, "agreeing"), ("min_inliers", 3, "homography")],
)
def test_invalid_rules_are_refused_with_the_setting_named(field: str, value: int, message: str) -> None:
    rules = AlertRules(threshold=0.8, **{field: value})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=message):
        rules.validate()
