from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def descriptor() -> Iterator[Any]:
    """Untrained ImageNet Lite0 + GeM on one torch thread: real weights, no training needed."""
    import torch
    from lootwatch.models.descriptor import load_descriptor

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield load_descriptor("imagenet-lite0-gem")
    torch.set_num_threads(threads)
