"""Saving, loading and initialising conv6 heads (the general one and per-user ones)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .checkpoints import load_checkpoint, save_checkpoint
from .encoder import HEAD_ARCH, HEAD_VERSION, Conv6Head

DEFAULT_HEAD_PATH = Path(__file__).resolve().parent / "assets" / "general_head.pt"
BOOTSTRAP_SEED = 20240613


def load_conv6_head(path: Path) -> Conv6Head:
    """Load a :class:`Conv6Head` from a checkpoint (``FileNotFoundError`` if absent)."""
    payload = load_checkpoint(Path(path), arch=HEAD_ARCH)
    head = Conv6Head()
    head.load_state_dict(payload["state_dict"], strict=True)
    return head.eval()


def head_metadata(path: Path) -> dict[str, Any]:
    return dict(load_checkpoint(Path(path), arch=HEAD_ARCH)["metadata"])


def save_conv6_head(head: Conv6Head, path: Path, *, metadata: dict[str, Any]) -> None:
    """Atomically write ``head`` as a ``conv6_head`` checkpoint."""
    save_checkpoint(
        Path(path),
        arch=HEAD_ARCH,
        state_dict=head.state_dict(),
        version=HEAD_VERSION,
        metadata=metadata,
    )


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
