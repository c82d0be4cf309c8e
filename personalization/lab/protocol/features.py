"""conv5 maps for the protocol: the real conv1-5 (through the shared cache) or, for ``--quick``,
a weight-free stand-in.

The real path is :func:`retrieval.lab.featurize.dataset_features` with a
:class:`retrieval.engine.pipeline.FeatureExtractor`: maps already in the cache (filled by
training, evaluation or the cache warmer) are read, missing ones computed and added.

:class:`GridExtractor` keeps the extractor contract (binary 256x256 maps in, float16
(N, 512, 8, 8) out, ``edge_maps``, ``version()``) at a microsecond cost: per 32x32 cell, the
line density and four oriented gradient energies, spread to 512 channels by a fixed seeded
3x3 convolution and a ReLU. It is no model of anything; it exists so the whole protocol can
run end to end in seconds (tests, smoke runs) with every stage doing real work.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from retrieval.engine.edges import canny_edge_map

GRID_VERSION = "grid-v1"
_GRID_SEED = 1729
# Brings the stand-in's activations to the order of real pool5 values (tens), so that the
# eq. 14 thresholds (h1 = 10, h2 = 50, Q = 100) act on distances of a similar scale.
_GRID_SCALE = 40.0


class GridExtractor:
    """Weight-free conv5 stand-in for ``--quick`` runs (see the module docstring)."""

    edge_method = "canny"
    uses_edges = True
    feature_shape = (512, 8, 8)

    def __init__(self) -> None:
        self.device = torch.device("cpu")
        gen = torch.Generator().manual_seed(_GRID_SEED)
        self.projection = torch.randn(512, 5, 3, 3, generator=gen) / 3.0
        self.bias = -0.5 * torch.rand(512, generator=gen)

    def edge_maps(self, images: list[np.ndarray]) -> list[np.ndarray]:
        return [canny_edge_map(im) for im in images]

    def photo_inputs(self, images: list[np.ndarray]) -> list[np.ndarray]:
        return self.edge_maps(images)

    def features(self, maps) -> np.ndarray:
        if len(maps) == 0:
            return np.zeros((0, 512, 8, 8), np.float16)
        lines = torch.from_numpy((np.asarray(maps) == 0).astype(np.float32))[:, None]
        soft = F.avg_pool2d(lines, 4)  # 64x64, thin lines become ridges
        gx = soft[..., :, 1:] - soft[..., :, :-1]
        gy = soft[..., 1:, :] - soft[..., :-1, :]
        gx, gy = gx[..., :-1, :], gy[..., :, :-1]  # both (N, 1, 63, 63)
        channels = [
            F.adaptive_avg_pool2d(soft, 8) * 4.0,
            F.adaptive_avg_pool2d(gx.abs(), 8) * 8.0,
            F.adaptive_avg_pool2d(gy.abs(), 8) * 8.0,
            F.adaptive_avg_pool2d((gx + gy).abs(), 8) * 6.0,
            F.adaptive_avg_pool2d((gx - gy).abs(), 8) * 6.0,
        ]
        x = torch.cat(channels, dim=1)
        out = F.relu(F.conv2d(x, self.projection, self.bias, padding=1)) * _GRID_SCALE
        return out.to(torch.float16).numpy()

    def version(self) -> str:
        return GRID_VERSION
