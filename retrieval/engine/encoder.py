"""The network of Table 1: VGG-16 conv1_1..conv5_3 (+ 5 max-pools) and the conv6 head.

One :class:`SketchEncoder` serves both branches (sketch and photo edge map share every
weight, section III.C). ``forward_features`` is conv1-5 (256x256 -> 512x8x8), the part that
stays frozen and shared in personalization; ``forward_head`` is conv6 + the 8x8 max-pool
(512x8x8 -> 512), the part a user's personalized model re-trains. Every trunk and head of the
engine has the same two methods (:mod:`.model`).

Departures from Table 1 (see docs/engine.md):
- Table 1 gives conv6_3 (1x1) a padding of 1, which would make its output 10x10, not the 8x8
  the same table lists; we use padding 0.
- ReLU follows conv6_1 and conv6_2 but not conv6_3: the descriptor layer is linear, so no
  output dimension can be clamped to zero for every input and stop learning (a "dead"
  dimension), and distances use the full signed range.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from .weights import CAFFE_MEAN_BGR

HEAD_ARCH = "conv6_head"
HEAD_VERSION = 1
FEATURE_SHAPE = (512, 8, 8)
DESCRIPTOR_DIM = 512
INPUT_SIZE = 256

# (out_channels per conv) per block; a 2x2 max-pool ends every block.
_VGG16_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


class VGG16Trunk(nn.Sequential):
    """VGG-16 conv1_1..conv5_3: (N, 3, 256, 256) Caffe-normalised -> (N, 512, 8, 8).

    A plain ``nn.Sequential`` underneath, so its weights keep torchvision's names (and the
    model versions hashed from them stay what they were).
    """

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)


def vgg16_features() -> VGG16Trunk:
    """VGG-16 conv1_1..conv5_3 with ReLUs and 5 max-pools, laid out like torchvision's
    ``vgg16().features`` (so conv indices 0, 2, 5, ... 28 match the converted checkpoint)."""
    layers: list[nn.Module] = []
    in_ch = 3
    for block in _VGG16_BLOCKS:
        for out_ch in block:
            layers += [nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            in_ch = out_ch
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return VGG16Trunk(*layers)


class Conv6Head(nn.Module):
    """conv6_1 1x1/128, conv6_2 3x3/128, conv6_3 1x1/512, then the 8x8 max-pool -> (N, 512)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv6_1 = nn.Conv2d(512, 128, kernel_size=1)
        self.conv6_2 = nn.Conv2d(128, 128, kernel_size=3, padding=1)
        self.conv6_3 = nn.Conv2d(128, 512, kernel_size=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.forward_head(features)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.conv6_1(features))
        x = self.relu(self.conv6_2(x))
        x = self.conv6_3(x)
        # Table 1's MaxPool6 is an 8x8 window over the 8x8 map: a global max.
        return torch.amax(x, dim=(2, 3))


class SketchEncoder(nn.Module):
    """conv1-5 (``features``) + conv6 (``head``); input (N, 3, 256, 256) Caffe-normalised."""

    def __init__(self, head: Conv6Head | None = None) -> None:
        super().__init__()
        self.features = vgg16_features()
        self.head = head if head is not None else Conv6Head()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features.forward_features(x)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head.forward_head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def load_backbone(self, state_dict: Mapping[str, torch.Tensor]) -> None:
        """Load conv1-5 from a converted ``vgg16_hed`` state dict (extra HED keys ignored)."""
        own = {k[len("features.") :]: v for k, v in state_dict.items() if k.startswith("features.")}
        self.features.load_state_dict(own, strict=True)


def binary_maps_to_tensor(maps: np.ndarray | list[np.ndarray]) -> torch.Tensor:
    """Binary maps (N, 256, 256) uint8 (0 = line, 255 = background) -> encoder input.

    The VGG/HED weights expect Caffe-style BGR 0-255 minus the per-channel mean; a grey map is
    the same value in all three channels, so both branches see black lines on white exactly
    as a photo of a drawing would look to the network.
    """
    batch = np.asarray(maps if isinstance(maps, np.ndarray) else np.stack(maps), dtype=np.float32)
    if batch.ndim == 2:
        batch = batch[None]
    x = torch.from_numpy(batch).unsqueeze(1).expand(-1, 3, -1, -1)
    mean = torch.tensor(CAFFE_MEAN_BGR, dtype=torch.float32).view(1, 3, 1, 1)
    return (x - mean).contiguous()


def rgb_to_caffe_tensor(images: np.ndarray) -> torch.Tensor:
    """RGB uint8 (N, H, W, 3) -> (N, 3, H, W) float32 BGR minus the Caffe mean."""
    x = torch.from_numpy(np.ascontiguousarray(images[..., ::-1], dtype=np.float32))
    mean = torch.tensor(CAFFE_MEAN_BGR, dtype=torch.float32).view(1, 1, 1, 3)
    return (x - mean).permute(0, 3, 1, 2).contiguous()
