"""Pyramid Attention Network head (Pipanmekaporn & Kamonsantiroj).

Overlapping spatial pyramid max pooling at n = 1..4 gives 1 + 4 + 9 + 16 = 30 regional features;
two-level attention weighs them into one global feature (level one: a learned query; level two: a
query computed from the level-one result). The caller projects to the output dim and L2-normalises.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

PYRAMID_LEVELS = (1, 2, 3, 4)


def pyramid_windows(size: int, n: int) -> list[tuple[int, int]]:
    """``n`` overlapping windows along one axis of ``size`` cells: [start, end) pairs.

    Window ceil(2 * size / (n + 1)), stride ceil(size / (n + 1)); windows are clipped to the map.
    """
    window, stride = _window_stride(size, n)
    spans = []
    for i in range(n):
        start = min(i * stride, size - 1)
        spans.append((start, min(start + window, size)))
    return spans


def pyramid_regions(x: torch.Tensor, levels: tuple[int, ...] = PYRAMID_LEVELS) -> torch.Tensor:
    """Max-pooled regional features (B, R, C) of a feature map (B, C, H, W); R = sum n^2, regions of a
    level in row-major order.

    A level whose windows all start inside the map (start = i * stride, :func:`pyramid_windows` never
    clips a start) is one max_pool2d over a channels-last copy padded with -inf at the far edges, so a
    window running past the map keeps only real cells: the same maxima as slicing each window. Thirty
    sliced amax calls on an NCHW map took 16 ms of a 16-photo batch (~10% of the whole forward); this
    takes a fraction of that. Levels with a start past the map (tiny maps) are sliced.
    """
    b, c, h, w = x.shape
    plans = []  # (n, window and stride down, window and stride across, every window starts inside the map)
    for n in levels:
        (kh, sh), (kw, sw) = _window_stride(h, n), _window_stride(w, n)
        plans.append((n, kh, sh, kw, sw, (n - 1) * sh <= h - 1 and (n - 1) * sw <= w - 1))
    pooled_plans = [p for p in plans if p[-1]]
    padded = None
    if pooled_plans:
        ph = max(max(0, (n - 1) * sh + kh - h) for n, kh, sh, _, _, _ in pooled_plans)
        pw = max(max(0, (n - 1) * sw + kw - w) for n, _, _, kw, sw, _ in pooled_plans)
        padded = x.new_full((b, c, h + ph, w + pw), float("-inf")).contiguous(memory_format=torch.channels_last)
        padded[:, :, :h, :w] = x
    feats = []
    for n, kh, sh, kw, sw, pool in plans:
        if pool and padded is not None:
            pooled = F.max_pool2d(padded, (kh, kw), (sh, sw))[:, :, :n, :n]  # more padding than needed: extra windows
            feats.append(pooled.permute(0, 2, 3, 1).reshape(b, n * n, c))
            continue
        for r0, r1 in pyramid_windows(h, n):
            for c0, c1 in pyramid_windows(w, n):
                feats.append(x[:, :, r0:r1, c0:c1].amax(dim=(2, 3)).unsqueeze(1))
    return torch.cat(feats, dim=1)


def _window_stride(size: int, n: int) -> tuple[int, int]:
    return math.ceil(2 * size / (n + 1)), math.ceil(size / (n + 1))


def attend(regions: torch.Tensor, query: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """e_k = q . f_k, a = softmax_k(e), G = sum_k a_k f_k. query: (C,) or (B, C)."""
    if query.dim() == 1:
        query = query.expand(regions.shape[0], -1)
    scores = torch.einsum("brc,bc->br", regions, query)
    weights = scores.softmax(dim=1)
    return torch.einsum("br,brc->bc", weights, regions), weights


class PyramidAttention(nn.Module):
    """``levels_of_attention``: 0 (mean of regions, "pan-noatt"), 1 ("pan-single") or 2 (PAN)."""

    def __init__(self, channels: int, levels_of_attention: int = 2) -> None:
        super().__init__()
        if levels_of_attention not in (0, 1, 2):
            raise ValueError("levels_of_attention must be 0, 1 or 2")
        self.levels_of_attention = levels_of_attention
        # Zero queries start as uniform attention (the mean of regions) and learn from there.
        self.query = nn.Parameter(torch.zeros(channels)) if levels_of_attention >= 1 else None
        self.second = nn.Linear(channels, channels) if levels_of_attention == 2 else None
        if self.second is not None:
            nn.init.zeros_(self.second.weight)
            nn.init.zeros_(self.second.bias)
        self.last_weights: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        regions = pyramid_regions(x)
        if self.query is None:
            return regions.mean(dim=1)
        g1, a1 = attend(regions, self.query)
        self.last_weights = [a1.detach()]
        if self.second is None:
            return g1
        g2, a2 = attend(regions, torch.tanh(self.second(g1)))
        self.last_weights.append(a2.detach())
        return g2
