"""Head checkpoints, the conv6 bootstrap head and the device choice."""

from __future__ import annotations

import pytest
import torch

from retrieval.engine.checkpoints import load_checkpoint
from retrieval.engine.device import resolve_device
from retrieval.engine.heads import bootstrap_conv6_head, load_head, save_head


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
