"""Saving, loading and initialising heads (the general one and per-user ones).

Two kinds, one per trunk family (see :mod:`.trunks`): ``conv6_head`` (Table 1's conv6 on
VGG-16 conv5 maps) and ``mbconv_gem_head`` (the last MBConv stage + GeM on EfficientNet-Lite
maps). A checkpoint's ``metadata["trunk"]`` names the trunk its head was trained on; conv6
checkpoints written before trunks were recorded are ``vgg16_hed``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoints import load_checkpoint, save_checkpoint
from .encoder import HEAD_ARCH as CONV6_ARCH
from .encoder import HEAD_VERSION as CONV6_VERSION
from .encoder import Conv6Head
from .mbconv_head import ARCH as MBCONV_ARCH
from .mbconv_head import VERSION as MBCONV_VERSION
from .mbconv_head import MBConvGeMHead, initial_head
from .trunks import trunk_spec

ASSETS = Path(__file__).resolve().parent / "assets"
# The product's general model (EfficientNet-Lite2 trunk) and the paper's (VGG-16 conv1-5 +
# conv6 of Table 1), kept for the paper protocol.
DEFAULT_HEAD_PATH = ASSETS / "general_head.pt"
VGG16_HEAD_PATH = ASSETS / "vgg16_hed_head.pt"
BOOTSTRAP_SEED = 20240613
LEGACY_TRUNK = "vgg16_hed"
HEAD_ARCHS = (CONV6_ARCH, MBCONV_ARCH)


def head_trunk(head: nn.Module) -> str:
    """The trunk whose maps ``head`` takes."""
    return getattr(head, "trunk", LEGACY_TRUNK)


def read_head(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """A head of either kind and its metadata from one read of the checkpoint.

    ``metadata["trunk"]`` is filled in for conv6 heads that predate it;
    ``FileNotFoundError`` if the file is absent, ``ValueError`` if it holds no head.
    """
    payload = load_checkpoint(Path(path))
    arch = payload["arch"]
    metadata = _metadata(payload)
    if arch == CONV6_ARCH:
        head: nn.Module = Conv6Head()
    elif arch == MBCONV_ARCH:
        head = MBConvGeMHead(metadata["trunk"])
    else:
        raise ValueError(f"{path} holds a {arch!r} checkpoint, expected one of {HEAD_ARCHS}")
    head.load_state_dict(payload["state_dict"], strict=True)
    return head.eval(), metadata


def load_head(path: Path) -> nn.Module:
    """Load a head of either kind from a checkpoint (``FileNotFoundError`` if absent)."""
    return read_head(path)[0]


def head_metadata(path: Path) -> dict[str, Any]:
    """The checkpoint's metadata, with ``trunk`` filled in for conv6 heads that predate it."""
    payload = load_checkpoint(Path(path))
    if payload["arch"] not in HEAD_ARCHS:
        raise ValueError(f"{path} holds a {payload['arch']!r} checkpoint, not a head")
    return _metadata(payload)


def _metadata(payload: dict[str, Any]) -> dict[str, Any]:
    metadata = dict(payload["metadata"])
    metadata.setdefault("trunk", LEGACY_TRUNK)
    return metadata


def save_head(head: nn.Module, path: Path, *, metadata: dict[str, Any]) -> None:
    """Atomically write ``head`` with its kind and trunk recorded."""
    if isinstance(head, MBConvGeMHead):
        arch, version = MBCONV_ARCH, MBCONV_VERSION
    elif isinstance(head, Conv6Head):
        arch, version = CONV6_ARCH, CONV6_VERSION
    else:
        raise TypeError(f"not a head: {type(head).__name__}")
    save_checkpoint(
        Path(path),
        arch=arch,
        state_dict=head.state_dict(),
        version=version,
        metadata={**metadata, "trunk": head_trunk(head)},
    )


def new_head(trunk: str, seed: int) -> nn.Module:
    """A freshly initialised head for ``trunk``; the global torch RNG is left untouched.

    conv6: default init (the paper's "randomly initialized"). MBConv + GeM: the ImageNet
    layers as they came and a seeded linear layer.
    """
    spec = trunk_spec(trunk)
    if spec.head_arch == CONV6_ARCH:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return Conv6Head()
    return initial_head(trunk, seed)


def bootstrap_conv6_head(seed: int = BOOTSTRAP_SEED) -> Conv6Head:
    """A deterministic untrained head whose output is a random 64-d projection of conv5.

    conv6_1 holds 64 random orthonormal directions D and their negatives, so after its ReLU
    the pair (relu(Dx), relu(-Dx)) keeps the sign information of Dx; conv6_2 passes its input
    through (identity at the centre tap); conv6_3 = [D^T, -D^T] recombines them to
    D^T (relu(Dx) - relu(-Dx)) = D^T D x. The descriptor is then the 8x8 max of an orthogonal
    projection of the conv5 map: distances between descriptors follow distances in a random
    64-d subspace of conv5 (Johnson-Lindenstrauss), instead of the arbitrary geometry of a
    default random init. It is a starting point, not a trained model.
    """
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(512, 64, generator=gen))
    directions = q.T.contiguous()  # (64, 512), orthonormal rows
    head = Conv6Head()
    with torch.no_grad():
        head.conv6_1.weight.copy_(torch.cat([directions, -directions])[:, :, None, None])
        head.conv6_1.bias.zero_()
        head.conv6_2.weight.zero_()
        head.conv6_2.weight[:, :, 1, 1] = torch.eye(128)
        head.conv6_2.bias.zero_()
        head.conv6_3.weight.copy_(torch.cat([directions.T, -directions.T], dim=1)[:, :, None, None])
        head.conv6_3.bias.zero_()
    return head.eval()
