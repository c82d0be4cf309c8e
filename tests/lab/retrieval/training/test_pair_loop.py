"""The paper's pair loop: balanced pairs, map augmentation, the optimiser schedule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from retrieval.engine.encoder import Conv6Head
from retrieval.lab.training import pair_loop


def test_sampler_batches_are_half_positive_half_negative():
    sketch_labels = [0, 0, 1, 1, 2, 2, 2]
    photo_labels = [0, 1, 1, 2, 2, 0]
    sampler = pair_loop.BalancedPairSampler(
        sketch_labels, photo_labels, batch_size=8, pairs_per_epoch=80, seed=3
    )
    batches = list(sampler)
    assert len(batches) == len(sampler) == 10
    s, p = np.array(sketch_labels), np.array(photo_labels)
    for b in batches:
        assert (b.y == 0).sum() == (b.y == 1).sum() == 4
        same = s[b.sketch] == p[b.photo]
        np.testing.assert_array_equal(same, b.y == 0)
    again = list(
        pair_loop.BalancedPairSampler(
            sketch_labels, photo_labels, batch_size=8, pairs_per_epoch=80, seed=3
        )
    )
    assert all((a.photo == b.photo).all() for a, b in zip(batches, again, strict=True))
    with pytest.raises(ValueError):
        pair_loop.BalancedPairSampler([0], [0, 1], batch_size=3)


def test_sampler_uses_instance_photos_when_asked():
    sampler = pair_loop.BalancedPairSampler(
        [0, 0],
        [0, 0, 0, 1],
        batch_size=4,
        pairs_per_epoch=40,
        instance_photo=[2, 2],
        instance_rate=1.0,
    )
    for b in sampler:
        assert (b.photo[b.y == 0] == 2).all()


def test_augment_features_flips_and_shifts():
    gen = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).view(2, 1, 8, 8).repeat(1, 3, 1, 1)
    out = pair_loop.augment_features(x, gen, flip=True, max_shift=0)
    for i in range(2):
        assert torch.equal(out[i], x[i]) or torch.equal(out[i], x[i].flip(-1))
    shifted = pair_loop.augment_features(x, gen, flip=False, max_shift=1)
    assert shifted.shape == x.shape


def test_paper_optimiser_and_halving_schedule():
    head = Conv6Head()
    opt = pair_loop.make_optimizer(head.parameters())
    group = opt.param_groups[0]
    assert (group["lr"], group["alpha"], group["momentum"], group["eps"]) == (1e-4, 0.9, 0.9, 1.0)
    sched = pair_loop.make_scheduler(opt)
    lrs = []
    for _ in range(11):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == lrs[4] == 1e-4 and lrs[5] == 5e-5 and lrs[10] == 2.5e-5
