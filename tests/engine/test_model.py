"""One model interface: trunks and heads built from a checkpoint, forward_features /
forward_head everywhere, one head_vectors (retrieval/engine/model.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from retrieval.engine.efficientnet import images_to_tensor
from retrieval.engine.heads import DEFAULT_HEAD_PATH, new_head
from retrieval.engine.model import build_model, build_trunk, head_vectors
from retrieval.engine.pipeline import Engine, EngineConfig
from retrieval.engine.trunks import TRUNKS, square_photo, trunk_spec


@pytest.mark.parametrize("trunk", sorted(TRUNKS))
def test_every_head_maps_its_trunks_maps_to_512_d(trunk):
    head = new_head(trunk, seed=0).eval()
    maps = np.random.default_rng(0).random((3, *trunk_spec(trunk).feature_shape))
    vectors = head_vectors(head, maps.astype(np.float16))
    assert vectors.shape == (3, 512) and vectors.dtype == np.float32
    with torch.inference_mode():
        direct = head.forward_head(torch.from_numpy(maps.astype(np.float16)).float())
    np.testing.assert_allclose(vectors, direct.numpy(), rtol=1e-5, atol=1e-5)


def test_head_vectors_refuses_maps_of_another_trunk():
    head = new_head("efficientnet_lite2", seed=0)
    with pytest.raises(ValueError, match="208, 8, 8"):
        head_vectors(head, np.zeros((1, 512, 8, 8), np.float16))


def test_vgg_trunk_from_the_converted_weights_has_forward_features(backbone_state):
    trunk = build_trunk("vgg16_hed", backbone=backbone_state)
    with torch.inference_mode():
        maps = trunk.forward_features(torch.zeros(1, 3, 256, 256))
    assert tuple(maps.shape[1:]) == trunk_spec("vgg16_hed").feature_shape
    # Plain nn.Sequential names: the model version hashed from them stays what it was.
    assert "0.weight" in trunk.state_dict()


def test_build_model_gives_the_engines_vectors(model_dir):
    """The factory's trunk and head, fed a photo, give exactly what search indexes."""
    model = build_model(DEFAULT_HEAD_PATH, model_dir=model_dir)
    assert model.metadata["trunk"] == "efficientnet_lite2"
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, (200, 150, 3), dtype=np.uint8)
    with torch.inference_mode():
        maps = model.forward_features(images_to_tensor([square_photo(photo)]))
    ours = head_vectors(model.head, maps.float().numpy().astype(np.float16))
    engine = Engine(EngineConfig(model_dir=model_dir))
    served = engine.embed_photos([photo])[0].vector
    np.testing.assert_allclose(ours[0], served, atol=1e-3)
    assert abs(np.linalg.norm(ours[0]) - 1.0) < 1e-4
