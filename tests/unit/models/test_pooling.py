from __future__ import annotations

import torch
from lootwatch.models.pooling import MAC, RMAC, GeM, NetVLAD, SPoC, grid_bounds
from lootwatch.models.triplet import batch_hard_triplet_loss, semi_hard_triplet_loss


def test_gem_between_mean_and_max() -> None:
    x = torch.rand(2, 8, 7, 7)
    gem = GeM(3.0)(x)
    assert (SPoC()(x) <= gem + 1e-6).all() and (gem <= MAC()(x) + 1e-6).all()
    assert torch.allclose(GeM(1.0)(x), SPoC()(x), atol=1e-5)
    learn = GeM(3.0, learnable=True)
    assert any(p.requires_grad for p in learn.parameters())
    assert not list(GeM(3.0).parameters())


def test_rmac_grids_give_twenty_regions() -> None:
    x = torch.rand(2, 8, 7, 7)
    assert RMAC().regions(x).shape == (2, 2 + 6 + 12, 8)
    assert grid_bounds(7, 2) == [(0, 4), (3, 7)]
    assert RMAC()(x).shape == (2, 8)


def test_netvlad_output_is_normalised() -> None:
    v = NetVLAD(32, clusters=4, reduced=8)
    out = v(torch.rand(3, 32, 5, 5))
    assert out.shape == (3, 32)
    assert torch.allclose(out.norm(dim=1), torch.ones(3), atol=1e-5)


def test_triplet_losses_zero_when_separated_positive_when_not() -> None:
    labels = torch.tensor([0, 0, 1, 1])
    apart = torch.tensor([[1.0, 0], [1.0, 0], [0, 1.0], [0, 1.0]])
    mixed = torch.tensor([[1.0, 0], [0, 1.0], [1.0, 0], [0, 1.0]])
    for loss in (batch_hard_triplet_loss, semi_hard_triplet_loss):
        assert float(loss(apart, labels, 0.3)) == 0.0
        assert float(loss(mixed, labels, 0.3)) > 1.0
