"""Global descriptors from a feature map (B, C, h, w) -> (B, D): SPoC, MAC, R-MAC, GeM, NetVLAD."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

RMAC_GRIDS = ((1, 2), (2, 3), (3, 4))  # (rows, cols) of the R-MAC region grids


class SPoC(nn.Module):
    """Sum (here: mean) pooling of convolutional features."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


class MAC(nn.Module):
    """Maximum activation of convolutions."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.amax(dim=(2, 3))


class GeM(nn.Module):
    """Generalised-mean pooling; ``p`` fixed or learnable."""

    def __init__(self, p: float = 3.0, learnable: bool = False, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        if learnable:
            self.p = nn.Parameter(torch.tensor(float(p)))
        else:
            self.register_buffer("p", torch.tensor(float(p)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.p.clamp(min=1.0)
        return x.clamp(min=self.eps).pow(p).mean(dim=(2, 3)).pow(1.0 / p)


def grid_bounds(length: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous, non-empty spans covering ``range(length)`` (overlapping when length < parts)."""
    return [
        (min(math.floor(i * length / parts), length - 1), max(math.ceil((i + 1) * length / parts), 1))
        for i in range(parts)
    ]


class RMAC(nn.Module):
    """Regional MAC over the grids 1x2, 2x3, 3x4: each region max-pooled and L2-normalised, then summed."""

    def __init__(self, grids: tuple[tuple[int, int], ...] = RMAC_GRIDS) -> None:
        super().__init__()
        self.grids = grids

    def regions(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2:]
        feats = [
            x[:, :, r0:r1, c0:c1].amax(dim=(2, 3))
            for rows, cols in self.grids
            for r0, r1 in grid_bounds(h, rows)
            for c0, c1 in grid_bounds(w, cols)
        ]
        return torch.stack(feats, dim=1)  # (B, R, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.regions(x), dim=-1).sum(dim=1)


class NetVLAD(nn.Module):
    """NetVLAD (Arandjelovic et al.): soft-assigned residuals to K learned centres, intra-normalised.

    A 1x1 convolution first reduces the channels so K x C stays small enough to project.
    """

    def __init__(self, in_channels: int, clusters: int = 16, reduced: int = 128) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(in_channels, reduced, 1)
        self.assign = nn.Conv2d(reduced, clusters, 1)
        self.centres = nn.Parameter(torch.randn(clusters, reduced) * 0.1)
        self.out_dim = clusters * reduced

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.normalize(self.reduce(x), dim=1)
        a = self.assign(x).flatten(2).softmax(dim=1)  # (B, K, N)
        f = x.flatten(2)  # (B, C, N)
        vlad = torch.einsum("bkn,bcn->bkc", a, f) - a.sum(dim=2).unsqueeze(-1) * self.centres
        vlad = F.normalize(vlad, dim=2)
        return F.normalize(vlad.flatten(1), dim=1)
