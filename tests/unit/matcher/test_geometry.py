"""The geometric check: the same surface restaged passes, another object does not, and why is said."""

from __future__ import annotations

from lootwatch.matcher.geometry import geometric_check
from PIL import Image

from tests.fixtures.photos import jpeg, restage, textured


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


def test_inlier_pairs_are_in_each_photos_full_size_pixels() -> None:
    gallery = textured(0, size=160)  # upscaled to the detector's 256 px
    listing = restage(gallery).resize((1200, 1200))  # decoded reduced (JPEG draft), then scaled to 1024 px
    result = geometric_check(jpeg(listing), jpeg(gallery))
    assert result.passed and len(result.pairs) >= result.inliers
    for (qx, qy), (rx, ry) in result.pairs:
        assert 0 <= qx < 1200 and 0 <= qy < 1200 and 0 <= rx < 160 and 0 <= ry < 160
    # the restaging is a small turn and crop: the points keep their place up to the 1200/150 zoom
    offsets = [(qx / 8 - rx, qy / 8 - ry) for (qx, qy), (rx, ry) in result.pairs]
    assert max(abs(dx) for dx, _ in offsets) < 25 and max(abs(dy) for _, dy in offsets) < 25
    assert "pairs" not in result.to_dict()  # evidence records the figures, not the points
