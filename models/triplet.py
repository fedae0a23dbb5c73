"""Online triplet mining over a P x K batch (batch-hard and semi-hard), on L2-normalised embeddings."""

from __future__ import annotations

import torch


def pairwise_distances(x: torch.Tensor) -> torch.Tensor:
    """Euclidean distances between unit rows: sqrt(2 - 2 cos), kept away from sqrt(0)."""
    sim = x @ x.t()
    return (2.0 - 2.0 * sim).clamp(min=1e-12).sqrt()


def batch_hard_triplet_loss(emb: torch.Tensor, labels: torch.Tensor, margin: float = 0.3) -> torch.Tensor:
    """Hermans et al.: for each anchor its farthest positive and nearest negative."""
    d = pairwise_distances(emb)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=emb.device)
    pos = same & ~eye
    hardest_pos = (d * pos).amax(dim=1)
    hardest_neg = d.masked_fill(same, float("inf")).amin(dim=1)
    valid = pos.any(dim=1) & (~same).any(dim=1)
    losses = (hardest_pos - hardest_neg + margin).clamp(min=0)[valid]
    return losses.mean() if losses.numel() else emb.sum() * 0.0


def semi_hard_triplet_loss(emb: torch.Tensor, labels: torch.Tensor, margin: float = 0.3) -> torch.Tensor:
    """FaceNet: every (anchor, positive) pair with the nearest negative farther than the positive,
    falling back to the hardest negative when no semi-hard one exists."""
    d = pairwise_distances(emb)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=emb.device)
    a_idx, p_idx = torch.nonzero(same & ~eye, as_tuple=True)
    if a_idx.numel() == 0:
        return emb.sum() * 0.0
    d_ap = d[a_idx, p_idx]  # (T,)
    d_an = d[a_idx]  # (T, B)
    neg = ~same[a_idx]
    semi = neg & (d_an > d_ap[:, None]) & (d_an < d_ap[:, None] + margin)
    inf = torch.tensor(float("inf"), device=emb.device)
    semi_neg = torch.where(semi, d_an, inf).amin(dim=1)
    hard_neg = torch.where(neg, d_an, inf).amin(dim=1)
    chosen = torch.where(torch.isfinite(semi_neg), semi_neg, hard_neg)
    ok = torch.isfinite(chosen)
    losses = (d_ap - chosen + margin).clamp(min=0)[ok]
    return losses.mean() if losses.numel() else emb.sum() * 0.0


MINERS = {"batch-hard": batch_hard_triplet_loss, "semi-hard": semi_hard_triplet_loss}
