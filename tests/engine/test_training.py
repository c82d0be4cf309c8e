"""Training building blocks: balanced pairs, augmentation, optimiser schedule, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from retrieval.engine import training
from retrieval.engine.checkpoints import load_checkpoint
from retrieval.engine.device import resolve_device
from retrieval.engine.encoder import Conv6Head, SketchEncoder
from retrieval.engine.heads import bootstrap_conv6_head, load_head, save_head


def test_sampler_batches_are_half_positive_half_negative():
    sketch_labels = [0, 0, 1, 1, 2, 2, 2]
    photo_labels = [0, 1, 1, 2, 2, 0]
    sampler = training.BalancedPairSampler(
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
        training.BalancedPairSampler(
            sketch_labels, photo_labels, batch_size=8, pairs_per_epoch=80, seed=3
        )
    )
    assert all((a.photo == b.photo).all() for a, b in zip(batches, again, strict=True))
    with pytest.raises(ValueError):
        training.BalancedPairSampler([0], [0, 1], batch_size=3)


def test_sampler_uses_instance_photos_when_asked():
    sampler = training.BalancedPairSampler(
        [0, 0],
        [0, 0, 0, 1],
        batch_size=4,
        pairs_per_epoch=40,
        instance_photo=[2, 2],
        instance_rate=1.0,
    )
    for b in sampler:
        assert (b.photo[b.y == 0] == 2).all()


def test_augment_map_keeps_a_binary_256_map():
    rng = np.random.default_rng(0)
    m = np.full((256, 256), 255, np.uint8)
    m[100:110, 20:200] = 0
    for _ in range(5):
        out = training.augment_map(m, rng)
        assert out.shape == (256, 256) and set(np.unique(out)) <= {0, 255}
        assert (out == 0).sum() > 500


def test_augment_features_flips_and_shifts():
    gen = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).view(2, 1, 8, 8).repeat(1, 3, 1, 1)
    out = training.augment_features(x, gen, flip=True, max_shift=0)
    for i in range(2):
        assert torch.equal(out[i], x[i]) or torch.equal(out[i], x[i].flip(-1))
    shifted = training.augment_features(x, gen, flip=False, max_shift=1)
    assert shifted.shape == x.shape


def test_paper_optimiser_and_halving_schedule():
    head = Conv6Head()
    opt = training.make_optimizer(head.parameters())
    group = opt.param_groups[0]
    assert (group["lr"], group["alpha"], group["momentum"], group["eps"]) == (1e-4, 0.9, 0.9, 1.0)
    sched = training.make_scheduler(opt)
    lrs = []
    for _ in range(11):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == lrs[4] == 1e-4 and lrs[5] == 5e-5 and lrs[10] == 2.5e-5


def test_freezing_conv1_to_5_leaves_only_conv6_trainable():
    encoder = SketchEncoder()
    training.set_backbone_trainable(encoder, False)
    trainable = {n for n, p in encoder.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("head.") for n in trainable)


def test_head_checkpoint_round_trip(tmp_path):
    head = bootstrap_conv6_head()
    path = tmp_path / "h.pt"
    save_head(head, path, metadata={"user": 7})
    payload = load_checkpoint(path)
    assert payload["arch"] == "conv6_head" and payload["metadata"] == {
        "user": 7,
        "trunk": "vgg16_hed",
    }
    loaded = load_head(path)
    x = torch.randn(2, 512, 8, 8)
    assert torch.equal(loaded(x), head(x))
    with pytest.raises(ValueError):
        load_checkpoint(path, arch="vgg16_hed")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError):
        load_checkpoint(tmp_path / "junk.pt")


def test_bootstrap_head_is_a_deterministic_projection():
    a, b = bootstrap_conv6_head(), bootstrap_conv6_head()
    x = torch.rand(3, 512, 8, 8)
    assert torch.equal(a(x), b(x))
    # conv6 = D^T D x then the max: constant maps give a projection of the constant.
    const = torch.rand(1, 512, 1, 1).expand(1, 512, 8, 8)
    d = a.conv6_1.weight[:64, :, 0, 0]
    expected = d.T @ d @ const[0, :, 0, 0]
    assert torch.allclose(a(const)[0], expected, atol=1e-4)


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in {"cpu", "cuda"}
    with pytest.raises(ValueError):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA"):
            resolve_device("cuda")


def test_full_training_loop_with_a_frozen_backbone_moves_only_conv6():
    torch.manual_seed(0)
    encoder = SketchEncoder()
    rng = np.random.default_rng(0)
    maps = [np.where(rng.random((256, 256)) < 0.03, 0, 255).astype(np.uint8) for _ in range(4)]
    conv1 = encoder.features[0].weight.detach().clone()
    conv6 = encoder.head.conv6_3.weight.detach().clone()
    history = training.train_encoder_on_maps(
        encoder,
        maps[:2],
        maps[2:],
        [0, 1],
        [0, 1],
        freeze_backbone=True,
        epochs=1,
        batch_size=2,
        pairs_per_epoch=2,
        lr=1e-3,
        progress=False,
    )
    assert len(history) == 1 and np.isfinite(history[0])
    assert torch.equal(encoder.features[0].weight, conv1)
    assert not torch.equal(encoder.head.conv6_3.weight, conv6)
