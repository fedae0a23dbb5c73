from __future__ import annotations

import random

import numpy as np
from lootwatch.models.augment import listing_style, object_mask
from PIL import Image


def studio_photo() -> Image.Image:
    arr = np.zeros((96, 96, 3), dtype=np.uint8)  # black backdrop
    arr[30:70, 25:75] = (200, 120, 60)  # the object
    return Image.fromarray(arr)


def test_listing_style_is_seeded_and_restages() -> None:
    img = studio_photo()
    a = listing_style(img, random.Random(7))
    b = listing_style(img, random.Random(7))
    c = listing_style(img, random.Random(8))
    assert a.mode == "RGB" and np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))
    # the black studio backdrop is replaced: far fewer near-black pixels than the original's ~78 %
    dark = (np.asarray(a).max(axis=2) < 20).mean()
    assert dark < 0.5


def test_object_mask_finds_the_object_on_black_only() -> None:
    mask = object_mask(studio_photo())
    assert mask is not None
    m = np.asarray(mask) > 127
    assert 0.15 < m.mean() < 0.3
    assert object_mask(Image.new("RGB", (50, 50), (200, 200, 200))) is None
