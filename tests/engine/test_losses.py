"""Eq. 4 and eq. 14 at hand-computed points."""

from __future__ import annotations

import math

import pytest
import torch

from retrieval.engine.losses import ContrastiveLoss, ThreeBranchLoss, three_branch_terms

# Sketch at the origin, photo at (3, 4): d = 5.
VS = torch.tensor([[0.0, 0.0]])
VC = torch.tensor([[3.0, 4.0]])


def test_contrastive_positive_pair_is_two_over_q_d_squared():
    loss = ContrastiveLoss(q=100.0)(VS, VC, torch.tensor([0.0]))
    assert loss.item() == pytest.approx(2 / 100 * 25)  # 0.5


def test_contrastive_negative_pair_is_2q_exp():
    loss = ContrastiveLoss(q=100.0)(VS, VC, torch.tensor([1.0]))
    assert loss.item() == pytest.approx(200 * math.exp(-2.77 * 5 / 100))  # 174.11...
    assert loss.item() == pytest.approx(174.1326, abs=1e-3)


def test_contrastive_is_the_batch_mean_and_q_matters():
    vs = torch.zeros(2, 2)
    vc = torch.tensor([[3.0, 4.0], [6.0, 8.0]])  # d = 5, 10
    loss = ContrastiveLoss(q=10.0)(vs, vc, torch.tensor([0.0, 1.0]))
    expected = (2 / 10 * 25 + 20 * math.exp(-2.77 * 10 / 10)) / 2
    assert loss.item() == pytest.approx(expected)


def test_contrastive_gradient_is_finite_for_identical_vectors():
    v = torch.zeros(1, 4, requires_grad=True)
    for y in (0.0, 1.0):
        loss = ContrastiveLoss()(v, torch.zeros(1, 4), torch.tensor([y]))
        (grad,) = torch.autograd.grad(loss, v)
        assert torch.isfinite(grad).all()
    assert ContrastiveLoss()(v, torch.zeros(1, 4), torch.tensor([1.0])).item() == pytest.approx(200)


@pytest.mark.parametrize(
    ("y", "expected"),
    [
        (0.0, 2 / 100 * (5 - 10) ** 2),  # L_S: 0.5
        (0.5, 2 / 100 * (5 - 50) ** 2),  # L_M: 40.5
        (1.0, 200 * math.exp(-2.77 * 5 / 100)),  # L_W
    ],
)
def test_three_branch_value_per_label(y, expected):
    loss = ThreeBranchLoss(q=100.0, h1=10.0, h2=50.0)(VS, VC, torch.tensor([y]))
    assert loss.item() == pytest.approx(expected)


def test_each_label_selects_only_its_own_branch():
    d = torch.tensor([5.0])
    q, h1, h2 = 100.0, 10.0, 50.0
    branches = {
        "S": 2 / q * (5 - h1) ** 2,
        "M": 2 / q * (5 - h2) ** 2,
        "W": 2 * q * math.exp(-2.77 * 5 / q),
    }
    for y, own in ((0.0, "S"), (0.5, "M"), (1.0, "W")):
        value = three_branch_terms(d, torch.tensor([y]), q, h1, h2).item()
        assert value == pytest.approx(branches[own])
        for other, v in branches.items():
            if other != own:
                assert value != pytest.approx(v)


def test_three_branch_batch_mean_and_minima_at_thresholds():
    vs = torch.zeros(3, 1)
    vc = torch.tensor([[10.0], [50.0], [0.0]])
    loss = ThreeBranchLoss()(vs, vc, torch.tensor([0.0, 0.5, 0.0]))
    # Positive at h1 and general at h2 cost nothing; positive at 0 costs (2/Q) h1^2 = 2.
    assert loss.item() == pytest.approx(2.0 / 3)
    with pytest.raises(ValueError):
        ThreeBranchLoss(q=100.0, h1=60.0, h2=50.0)
