from __future__ import annotations

import pytest
import torch
from lootwatch.models.pan import PyramidAttention, attend, pyramid_regions, pyramid_windows


def test_window_math_on_a_7x7_map() -> None:
    # n=4 on 7 cells: window ceil(14/5)=3, stride ceil(7/5)=2
    assert pyramid_windows(7, 4) == [(0, 3), (2, 5), (4, 7), (6, 7)]
    # n=1 covers the whole axis; n=2: window ceil(14/3)=5, stride ceil(7/3)=3
    assert pyramid_windows(7, 1) == [(0, 7)]
    assert pyramid_windows(7, 2) == [(0, 5), (3, 7)]
    assert pyramid_windows(7, 3) == [(0, 4), (2, 6), (4, 7)]


@pytest.mark.parametrize("h,w", [(7, 7), (5, 5), (4, 6), (2, 2), (10, 7)])
def test_thirty_regions_and_each_is_a_max(h: int, w: int) -> None:
    x = torch.rand(2, 8, h, w)
    regions = pyramid_regions(x)
    assert regions.shape == (2, 1 + 4 + 9 + 16, 8)
    # level one is the global max; every region is bounded by it
    assert torch.allclose(regions[:, 0], x.amax(dim=(2, 3)))
    assert (regions <= regions[:, :1] + 1e-6).all()


def test_windows_overlap_and_cover_the_axis() -> None:
    for size in range(1, 15):
        for n in (1, 2, 3, 4):
            spans = pyramid_windows(size, n)
            assert len(spans) == n
            assert spans[0][0] == 0 and spans[-1][1] == size
            assert all(0 <= a < b <= size for a, b in spans)
            covered = set().union(*(range(a, b) for a, b in spans))
            assert covered == set(range(size))


def test_attention_weights_are_a_softmax() -> None:
    regions = torch.randn(3, 30, 16)
    g, a = attend(regions, torch.randn(16))
    assert g.shape == (3, 16) and a.shape == (3, 30)
    assert torch.allclose(a.sum(dim=1), torch.ones(3))
    assert torch.allclose(g, (a.unsqueeze(-1) * regions).sum(dim=1), atol=1e-5)


@pytest.mark.parametrize("levels", [0, 1, 2])
def test_pan_head_shapes_and_weights(levels: int) -> None:
    head = PyramidAttention(16, levels)
    with torch.no_grad():
        for p in head.parameters():
            p.normal_()
    out = head(torch.rand(2, 16, 7, 7))
    assert out.shape == (2, 16)
    assert len(head.last_weights) == levels
    for w in head.last_weights:
        assert w.shape == (2, 30)
        assert torch.allclose(w.sum(dim=1), torch.ones(2))


def test_zero_initialised_pan_starts_as_mean_of_regions() -> None:
    x = torch.rand(2, 16, 7, 7)
    assert torch.allclose(PyramidAttention(16, 2)(x), PyramidAttention(16, 0)(x), atol=1e-6)


@pytest.mark.parametrize("h", [1, 2, 3, 5, 7, 8, 10, 14])
@pytest.mark.parametrize("w", [1, 2, 4, 7, 9, 12])
def test_pooled_regions_equal_slicing_every_window(h: int, w: int) -> None:
    # pyramid_regions pools whole levels at once (padded, channels-last); it must give exactly the
    # maxima of the paper's windows, sliced one by one, in the same order, with gradients to the map
    x = torch.randn(2, 6, h, w, requires_grad=True)
    sliced = torch.stack(
        [
            x[:, :, r0:r1, c0:c1].amax(dim=(2, 3))
            for n in (1, 2, 3, 4)
            for r0, r1 in pyramid_windows(h, n)
            for c0, c1 in pyramid_windows(w, n)
        ],
        dim=1,
    )
    pooled = pyramid_regions(x)
    assert torch.equal(pooled, sliced)
    (grad,) = torch.autograd.grad(pooled.sum(), x)
    (expected,) = torch.autograd.grad(sliced.sum(), x)
    assert torch.equal(grad, expected)
