"""The worker's forward input: resized, normalised photos in the layout its precision reads."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lootwatch.models.descriptor import new_card, preprocess
from PIL import Image


def _reference(images: list[Image.Image], mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    arrays = [np.asarray(img.convert("RGB").resize((224, 224), Image.Resampling.BILINEAR)) for img in images]
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255.0
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


@pytest.mark.parametrize("channels_last", [False, True])
def test_preprocess_matches_the_batch_wide_formula_in_either_layout(channels_last: bool) -> None:
    card = new_card("gem", "lite0")
    card.mean, card.std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (90 + 40 * i, 120 + 17 * i, 3), dtype=np.uint8)) for i in range(4)]
    images += [Image.new("L", (30, 40), 7), Image.new("RGBA", (300, 225), (1, 2, 3, 4))]
    x = preprocess(images, card, channels_last=channels_last)
    assert x.shape == (6, 3, 224, 224) and x.dtype == torch.float32
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    assert x.is_contiguous(memory_format=fmt)
    assert torch.allclose(x, _reference(images, card.mean, card.std), atol=1e-5)


def test_preprocess_of_no_images_is_an_empty_batch() -> None:
    assert preprocess([], new_card("gem", "lite0")).shape == (0, 3, 224, 224)
