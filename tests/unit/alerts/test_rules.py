"""The alert rule's pure parts: thresholds per collection, settings, the geometric check."""

from __future__ import annotations

import io
import random

import pytest
from lootwatch.alerts.rules import AlertRules, geometric_check
from PIL import Image, ImageDraw

from lootwatch.core.errors import ConfigError
from lootwatch.core.settings import Settings


def textured(seed: int, size: int = 160) -> Image.Image:
    """A photo-like object with corners and blobs for ORB to find; each seed a different one."""
    rng = random.Random(seed)
    img = Image.new("RGB", (size, size), (128, 128, 128))
    draw = ImageDraw.Draw(img)
    for _ in range(40):
        x, y = rng.randrange(size), rng.randrange(size)
        w, h = rng.randrange(6, 40), rng.randrange(6, 40)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        shape = draw.rectangle if rng.random() < 0.5 else draw.ellipse
        shape((x, y, x + w, y + h), fill=colour)
    return img


def restage(img: Image.Image) -> Image.Image:
    """The same object as a dealer would photograph it: turned a little, cropped, rescaled."""
    w, h = img.size
    turned = img.rotate(7, resample=Image.Resampling.BICUBIC, fillcolor=(128, 128, 128))
    return turned.crop((6, 4, w - 5, h - 7)).resize((150, 150))


def jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


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


def test_geometry_passes_the_same_object_restaged() -> None:
    for seed in range(3):
        gallery = textured(seed)
        result = geometric_check(jpeg(restage(gallery)), jpeg(gallery))
        assert result.available and result.passed, result
        assert result.inliers >= 30


def test_geometry_fails_another_object() -> None:
    for seed in range(3):
        result = geometric_check(jpeg(restage(textured(seed))), jpeg(textured(seed + 100)))
        assert result.available and not result.passed, result
        assert result.inliers < 12


def test_geometry_of_a_blank_or_broken_photo_fails_with_a_reason() -> None:
    blank = jpeg(Image.new("RGB", (128, 128), (200, 200, 200)))
    flat = geometric_check(blank, jpeg(textured(1)))
    assert flat.available and not flat.passed and "keypoints" in flat.reason
    broken = geometric_check(b"not an image", jpeg(textured(1)))
    assert not broken.available and not broken.passed and "unreadable" in broken.reason
