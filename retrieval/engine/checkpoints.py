"""Checkpoint files: a dict with ``arch``, ``state_dict``, ``version``, ``metadata``.

Every write goes to a temporary file in the target directory, is fsynced, then
``os.replace``d over the destination, so a reader sees either the old file or the new one,
never half of one (a crash mid-save leaves at most a stray ``*.tmp``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import torch

CHECKPOINT_KEYS = ("arch", "state_dict", "version", "metadata")


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through ``write(fileobj)`` via a temp file + ``os.replace``."""

    def fill(tmp_name: str) -> None:
        with open(tmp_name, "wb") as fh:
            write(fh)

    atomic_fill(path, fill)


def atomic_fill(path: Path, fill: Callable[[str], None]) -> None:
    """Make ``path`` by ``fill(temp file name)`` (for writers that take a file name, as FAISS
    does), then fsync and ``os.replace`` it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        fill(tmp_name)
        # mkstemp makes the file 0600; it must stay readable by the web server user.
        os.chmod(tmp_name, 0o644)
        fd = os.open(tmp_name, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not every platform lets us open a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(
    path: Path,
    *,
    arch: str,
    state_dict: Mapping[str, torch.Tensor],
    version: int,
    metadata: Mapping[str, Any],
) -> None:
    """Atomically save a checkpoint dict; tensors are moved to the CPU first."""
    payload = {
        "arch": arch,
        "state_dict": {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()},
        "version": int(version),
        "metadata": dict(metadata),
    }
    atomic_write(Path(path), lambda fh: torch.save(payload, fh))


def load_checkpoint(path: Path, *, arch: str | None = None) -> dict[str, Any]:
    """Load a checkpoint saved by :func:`save_checkpoint` (``weights_only``: no pickled code).

    Raises ``ValueError`` when the file is not a checkpoint or has another ``arch``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds (struct, pickle, zip) on a bad file
        raise ValueError(f"{path} is not a readable checkpoint: {exc}") from exc
    if not isinstance(payload, dict) or any(k not in payload for k in CHECKPOINT_KEYS):
        raise ValueError(f"{path} is not a checkpoint (expected keys {CHECKPOINT_KEYS})")
    if arch is not None and payload["arch"] != arch:
        raise ValueError(f"{path} holds a {payload['arch']!r} checkpoint, expected {arch!r}")
    return payload
