"""Tiny synthetic datasets and a fast stand-in for conv1-5, for the train/evaluate CLI tests.

The stand-in keeps the contract of :class:`retrieval.engine.pipeline.FeatureExtractor`
(binary 256x256 maps in, float16 (N, 512, 8, 8) out, ``version()``) but costs microseconds:
the 8x8 ink density of the map through a fixed random 512-channel projection. Shapes stay
distinguishable through it, so training has something to learn.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from retrieval.engine.edges import canny_edge_map

SHAPES = ("circle", "square", "triangle", "cross")


def draw_shape(shape: str, rng: np.random.Generator, *, filled: bool) -> np.ndarray:
    """A 128x128 RGB image: a jittered shape, outlined (sketch) or filled (photo)."""
    bg = (255, 255, 255) if not filled else tuple(int(v) for v in rng.integers(150, 255, 3))
    image = np.full((128, 128, 3), bg, np.uint8)
    color = (0, 0, 0) if not filled else tuple(int(v) for v in rng.integers(0, 100, 3))
    thick = -1 if filled else 3
    c = 64 + rng.integers(-8, 9, 2)
    r = int(rng.integers(28, 40))
    if shape == "circle":
        cv2.circle(image, (int(c[0]), int(c[1])), r, color, thick)
    elif shape == "square":
        cv2.rectangle(
            image, (int(c[0] - r), int(c[1] - r)), (int(c[0] + r), int(c[1] + r)), color, thick
        )
    elif shape == "triangle":
        pts = np.array([[c[0], c[1] - r], [c[0] - r, c[1] + r], [c[0] + r, c[1] + r]], np.int32)
        if filled:
            cv2.fillPoly(image, [pts], color)
        else:
            cv2.polylines(image, [pts], True, color, 3)
    else:
        w = max(r // 3, 4)
        for rect in (
            (c[0] - r, c[1] - w, c[0] + r, c[1] + w),
            (c[0] - w, c[1] - r, c[0] + w, c[1] + r),
        ):
            cv2.rectangle(
                image, (int(rect[0]), int(rect[1])), (int(rect[2]), int(rect[3])), color, thick
            )
    return image


def make_dataset(
    root: Path, *, shapes=SHAPES, photos: int = 4, sketches_per_photo: int = 2, seed: int = 0
) -> Path:
    """The plain layout: photo/<shape>/<shape>_<i>.jpg and sketch/<shape>/<shape>_<i>-<k>.png."""
    rng = np.random.default_rng(seed)
    for shape in shapes:
        (root / "photo" / shape).mkdir(parents=True, exist_ok=True)
        (root / "sketch" / shape).mkdir(parents=True, exist_ok=True)
        for i in range(photos):
            stem = f"{shape}_{i}"
            photo = draw_shape(shape, rng, filled=True)
            cv2.imwrite(str(root / "photo" / shape / f"{stem}.jpg"), photo[:, :, ::-1])
            for k in range(1, sketches_per_photo + 1):
                sketch = draw_shape(shape, rng, filled=False)
                cv2.imwrite(str(root / "sketch" / shape / f"{stem}-{k}.png"), sketch)
    return root


class FakeExtractor:
    """Fast stand-in for ``FeatureExtractor`` (see module docstring)."""

    def __init__(self, seed: int = 0) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.projection = torch.randn(512, 1, 3, 3, generator=gen)
        self.device = torch.device("cpu")
        self.edge_method = "canny"
        self.uses_edges = True
        self.feature_shape = (512, 8, 8)
        self.calls = 0

    def photo_inputs(self, images: list[np.ndarray]) -> list[np.ndarray]:
        return self.edge_maps(images)

    def edge_maps(self, images: list[np.ndarray]) -> list[np.ndarray]:
        return [canny_edge_map(im) for im in images]

    def features(self, maps) -> np.ndarray:
        self.calls += len(maps)
        ink = torch.from_numpy((np.asarray(maps) == 0).astype(np.float32))[:, None]
        density = torch.nn.functional.adaptive_avg_pool2d(ink, 8) * 10.0
        out = torch.relu(torch.nn.functional.conv2d(density, self.projection, padding=1))
        return out.to(torch.float16).numpy()

    def version(self) -> str:
        return "fake-extractor-v1"
