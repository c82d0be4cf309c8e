"""Tiny train-then-retrieve on synthetic shapes: conv6 trained on cached conv5 features.

Sketches (wobbly outlines) and "photo" edge maps (other jitter, broken outlines, clutter) of
4 shapes go through the real conv1-5 once; conv6 is trained on the cached maps with eq. 4
and balanced pairs; held-out sketches must then retrieve their shape far above chance.
Inputs are 128x128 (4x4 conv5 maps) so the whole test takes seconds on two cores.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from retrieval.engine.encoder import Conv6Head, SketchEncoder, binary_maps_to_tensor
from retrieval.engine.preprocess import sketch_image_to_map
from retrieval.lab.metrics import relevance_matrix, summarize
from retrieval.lab.training.pair_loop import train_head_on_features
from tests.engine.sketches import SHAPES, draw_lines, edge_map_like_photo, shape_outline

PER_SHAPE = 6
SIZE = 128


def _small(binary: np.ndarray) -> np.ndarray:
    small = cv2.resize(binary, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    return np.where(small > 127, 255, 0).astype(np.uint8)


def _retrieval(head, sketch_feats, sketch_labels, photo_feats, photo_labels) -> dict:
    with torch.inference_mode():
        vs = head(torch.from_numpy(sketch_feats)).numpy()
        vp = head(torch.from_numpy(photo_feats)).numpy()
    d = ((vs[:, None, :] - vp[None, :, :]) ** 2).sum(-1)
    ranked = np.argsort(d, axis=1, kind="stable")
    return summarize(relevance_matrix(ranked, sketch_labels, photo_labels), ks=(5,))


@pytest.mark.slow
def test_training_conv6_on_cached_conv5_retrieves_shapes(backbone_state):
    rng = np.random.default_rng(0)
    sketches, photos, s_labels, p_labels = [], [], [], []
    for label, shape in enumerate(SHAPES):
        for _ in range(PER_SHAPE):
            sketches.append(_small(sketch_image_to_map(draw_lines(shape_outline(shape, rng)))))
            photos.append(_small(edge_map_like_photo(shape_outline(shape, rng, jitter=0.08), rng)))
            s_labels.append(label)
            p_labels.append(label)
    encoder = SketchEncoder()
    encoder.load_backbone(backbone_state)
    encoder.eval()
    with torch.inference_mode():  # the cache: conv1-5 runs once per image
        s_feats = encoder.forward_features(binary_maps_to_tensor(sketches)).numpy()
        p_feats = encoder.forward_features(binary_maps_to_tensor(photos)).numpy()
    s_labels, p_labels = np.array(s_labels), np.array(p_labels)
    train = np.array([i % PER_SHAPE < PER_SHAPE // 2 for i in range(len(s_labels))])
    test = ~train

    torch.manual_seed(0)
    head = Conv6Head()
    before = _retrieval(head, s_feats[test], s_labels[test], p_feats, p_labels)
    history = train_head_on_features(
        head,
        s_feats[train],
        p_feats,
        s_labels[train],
        p_labels,
        epochs=15,
        batch_size=8,  # the paper's optimiser (RMSProp, lr 1e-4 halved every 5 epochs)
        pairs_per_epoch=96,
        seed=0,
        progress=False,
    )
    after = _retrieval(head, s_feats[test], s_labels[test], p_feats, p_labels)
    chance = 1 / len(SHAPES)
    assert history[-1] < history[0]
    assert after["map"] > chance + 0.35, (before, after)
    assert after["map"] > before["map"] + 0.05, (before, after)  # training, not luck
    assert after["p_at_5"] > 0.6, (before, after)
