"""The trainable head on an EfficientNet-Lite trunk: conv6's role in the paper's split.

(N, C, 8, 8) cached trunk map -> the last MBConv stage -> the 1x1 ``conv_head`` to 1280
channels + batch-norm + ReLU6 (all three ImageNet-initialised) -> GeM pooling -> linear to
512 -> L2 normalisation. Euclidean distances between unit vectors order exactly like cosine
similarities, and lie in [0, 2] for every head, general or personal.

"Re-initialising" a head (the paper's personal model, section IV.B) means starting again
from this state: the ImageNet layers as they came, a fresh seeded linear layer.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from .efficientnet import VARIANTS, pretrained_network, timm_network

ARCH = "mbconv_gem_head"
VERSION = 1
DESCRIPTOR_DIM = 512
GEM_P = 3.0


class GeM(nn.Module):
    """Generalised-mean pooling, (mean x^p)^(1/p) over the map, p learnable (Radenovic)."""

    def __init__(self, p: float = GEM_P, eps: float = 1e-6) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.tensor(float(p)))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.p.clamp(1.0, 8.0)
        return x.clamp(min=self.eps).pow(p).mean(dim=(2, 3)).pow(1.0 / p)


class MBConvGeMHead(nn.Module):
    """Last MBConv stage + conv_head + BN/ReLU6 + GeM + linear 512 + L2 norm."""

    arch = ARCH

    def __init__(self, trunk: str) -> None:
        super().__init__()
        if trunk not in VARIANTS:
            raise ValueError(f"{trunk!r} is not an EfficientNet-Lite trunk")
        self.trunk = trunk
        network = timm_network(VARIANTS[trunk][0])
        self.stage = network.blocks[len(network.blocks) - 1]
        self.conv_head = network.conv_head
        self.bn2 = network.bn2  # timm's BatchNormAct2d: batch-norm then ReLU6
        self.pool = GeM()
        self.fc = nn.Linear(network.conv_head.out_channels, DESCRIPTOR_DIM)
        # NHWC: the same arithmetic, measured 1.3-2x faster on this CPU (oneDNN kernels).
        self.to(memory_format=torch.channels_last)

    def pooled(self, features: torch.Tensor) -> torch.Tensor:
        """(N, C, 8, 8) maps -> (N, 1280) GeM-pooled features: everything before ``fc``."""
        features = features.contiguous(memory_format=torch.channels_last)
        return self.pool(self.bn2(self.conv_head(self.stage(features))))

    def embed_unnormalised(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pooled(features))

    def project(self, pooled: torch.Tensor) -> torch.Tensor:
        """:meth:`pooled` features -> the unit 512-d vector (``fc`` + L2 normalisation)."""
        return F.normalize(self.fc(pooled), dim=1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.forward_head(features)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.project(self.pooled(features))

    def freeze_batchnorm_statistics(self) -> MBConvGeMHead:
        """Keep the ImageNet running statistics while training (affine weights still learn).

        Personal heads train on a few dozen maps: batch statistics of such batches would be
        noise; the general model uses the same rule so the two heads stay alike.
        """
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
        return self


@functools.lru_cache(maxsize=4)
def _imagenet_head_state(trunk: str) -> dict[str, torch.Tensor]:
    network = pretrained_network(trunk)
    last = len(network.blocks) - 1
    parts = {
        "stage": network.blocks[last].state_dict(),
        "conv_head": network.conv_head.state_dict(),
        "bn2": network.bn2.state_dict(),
    }
    return {f"{part}.{k}": v.clone() for part, state in parts.items() for k, v in state.items()}


def initial_head(trunk: str, seed: int) -> MBConvGeMHead:
    """ImageNet layers as they came and a linear layer seeded by ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = MBConvGeMHead(trunk)
    missing, unexpected = head.load_state_dict(_imagenet_head_state(trunk), strict=False)
    if unexpected or any(not k.startswith(("fc.", "pool.")) for k in missing):
        raise RuntimeError(f"ImageNet head state does not fit: {missing} {unexpected}")
    return head.eval()
