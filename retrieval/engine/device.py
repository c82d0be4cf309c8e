"""Choosing the torch device: ``auto`` picks CUDA when present, else the CPU."""

from __future__ import annotations

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` | ``"cpu"`` | ``"cuda"`` (or ``"cuda:N"``) -> a usable ``torch.device``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device {name!r} was asked for but no CUDA GPU is available; use 'auto' or 'cpu'"
            )
        return torch.device(name)
    raise ValueError(f"unknown device {name!r}; expected one of {DEVICE_CHOICES}")
