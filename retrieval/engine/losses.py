"""The paper's losses over Euclidean distances between sketch and photo descriptors.

Labels follow the paper: Y = 0 for a relevant (positive) pair, Y = 1 for an irrelevant
(negative) one, and for personalization Y = 0.5 for a "generally related" pair (same parent
category, other sub-category). Both losses are averaged over the batch (eqs. 5 and 15).
"""

from __future__ import annotations

import torch
from torch import nn

# d is computed as sqrt(max(d^2, eps)): the sqrt has an infinite slope at 0, and a pair of
# identical vectors (d = 0) must not turn the gradients into NaN.
_EPS = 1e-12
_DECAY = 2.77


def pair_distances(v_s: torch.Tensor, v_c: torch.Tensor) -> torch.Tensor:
    """Row-wise Euclidean distance ||v_s - v_c||_2 for (N, D) tensors, NaN-safe at 0."""
    return torch.sqrt(torch.clamp(((v_s - v_c) ** 2).sum(dim=1), min=_EPS))


def contrastive_terms(d: torch.Tensor, y: torch.Tensor, q: float) -> torch.Tensor:
    """Eq. 4 per pair: (1 - Y) (2/Q) d^2 + Y 2Q exp(-2.77 d / Q)."""
    return (1.0 - y) * (2.0 / q) * d**2 + y * 2.0 * q * torch.exp(-_DECAY * d / q)


def three_branch_terms(d: torch.Tensor, y: torch.Tensor, q: float, h1: float, h2: float):
    """Eq. 12-14 per pair: delta1 L_S + delta2 L_M + delta3 L_W with Y in {0, 0.5, 1}.

    delta1 = 2|Y-1||Y-0.5| is 1 only at Y=0, delta2 = 4|Y-1|Y only at Y=0.5, delta3 =
    2|Y-0.5|Y only at Y=1 (eq. 14 prints (0.5 - Y) in the first factor, equal at Y = 0).
    """
    delta1 = 2.0 * (y - 1.0).abs() * (y - 0.5).abs()
    delta2 = 4.0 * (y - 1.0).abs() * y
    delta3 = 2.0 * (y - 0.5).abs() * y
    l_s = (2.0 / q) * (d - h1) ** 2
    l_m = (2.0 / q) * (d - h2) ** 2
    l_w = 2.0 * q * torch.exp(-_DECAY * d / q)
    return delta1 * l_s + delta2 * l_m + delta3 * l_w


class ContrastiveLoss(nn.Module):
    """Eq. 4 averaged over the batch (eq. 5); Q is the largest distance that still matters."""

    def __init__(self, q: float = 100.0) -> None:
        super().__init__()
        self.q = float(q)

    def forward(self, v_s: torch.Tensor, v_c: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        d = pair_distances(v_s, v_c)
        return contrastive_terms(d, y.to(d.dtype), self.q).mean()


class ThreeBranchLoss(nn.Module):
    """Eq. 14 averaged over the batch (eq. 15), h1 < h2 < Q (paper: h1 = Q/10, h2 = Q/2)."""

    def __init__(self, q: float = 100.0, h1: float = 10.0, h2: float = 50.0) -> None:
        super().__init__()
        if not 0 <= h1 < h2 < q:
            raise ValueError("need 0 <= h1 < h2 < q")
        self.q, self.h1, self.h2 = float(q), float(h1), float(h2)

    def forward(self, v_s: torch.Tensor, v_c: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        d = pair_distances(v_s, v_c)
        return three_branch_terms(d, y.to(d.dtype), self.q, self.h1, self.h2).mean()
