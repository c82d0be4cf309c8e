"""A classical reference for Table 2: one global HOG descriptor of a binary line map.

The paper's Table 2 lists HOG [7] at mAP 0.1093 on Flickr15K. We compute HOG (Dalal and
Triggs) on the same kind of input the network sees: a sketch map or a photo's edge map,
uint8 (256, 256) with 0 = line. Numpy only (opencv 5 dropped ``cv2.HOGDescriptor``):

1. line mask -> float, area-resized to ``side`` (128): thin lines become soft ridges whose
   gradients have a stable orientation;
2. Sobel gradients, unsigned orientation in [0, 180) split into ``bins`` (9) with linear
   interpolation between neighbouring bins, magnitude-weighted, summed per ``cell`` (16 px);
3. blocks of 2x2 cells, stride one cell, L2-Hys normalised (L2, clip at 0.2, L2 again);
4. the concatenation is L2-normalised, so Euclidean distance ranks like cosine distance.

With the defaults the descriptor has 7 x 7 blocks x 4 cells x 9 bins = 1764 dimensions.
Its inputs (:func:`photo_edge_maps`, :func:`sketch_maps`) are what the evaluation's
``--baseline hog`` and the protocol's HOG row both rank.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from retrieval.engine.edges import canny_edge_map
from retrieval.engine.preprocess import sketch_image_to_map
from retrieval.lab.data import SketchPhotoDataset, read_rgb

HOG_SIDE = 128
HOG_CELL = 16
HOG_BINS = 9
HYS_CLIP = 0.2
_EPS = 1e-6


def hog_dim(side: int = HOG_SIDE, cell: int = HOG_CELL, bins: int = HOG_BINS) -> int:
    blocks = side // cell - 1
    return blocks * blocks * 4 * bins


def cell_histograms(gray: np.ndarray, *, cell: int = HOG_CELL, bins: int = HOG_BINS) -> np.ndarray:
    """(side/cell, side/cell, bins) magnitude-weighted orientation histograms of ``gray``."""
    img = np.asarray(gray, np.float32)
    gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.hypot(gx, gy)
    # Unsigned orientation: a line's two sides have opposite gradients and must vote alike.
    angle = np.rad2deg(np.arctan2(gy, gx)) % 180.0
    position = angle / (180.0 / bins) - 0.5  # bin centres at (k + 0.5) * 180 / bins
    lower = np.floor(position).astype(np.int64)
    upper_weight = (position - lower).astype(np.float32)
    lower %= bins
    upper = (lower + 1) % bins
    h, w = img.shape
    ny, nx = h // cell, w // cell
    votes = np.zeros((h, w, bins), np.float32)
    rows, cols = np.indices((h, w))
    votes[rows, cols, lower] += magnitude * (1.0 - upper_weight)
    votes[rows, cols, upper] += magnitude * upper_weight
    votes = votes[: ny * cell, : nx * cell]
    return votes.reshape(ny, cell, nx, cell, bins).sum(axis=(1, 3))


def hog_descriptor(
    binary_map: np.ndarray,
    *,
    side: int = HOG_SIDE,
    cell: int = HOG_CELL,
    bins: int = HOG_BINS,
) -> np.ndarray:
    """float32 (hog_dim,) unit-length HOG of a binary map (0 = line, 255 = background)."""
    lines = (np.asarray(binary_map) == 0).astype(np.float32)
    if lines.shape != (side, side):
        lines = cv2.resize(lines, (side, side), interpolation=cv2.INTER_AREA)
    hist = cell_histograms(lines, cell=cell, bins=bins)
    ny, nx, _ = hist.shape
    blocks = []
    for y in range(ny - 1):
        for x in range(nx - 1):
            block = hist[y : y + 2, x : x + 2].reshape(-1)
            block = block / np.sqrt((block**2).sum() + _EPS)
            block = np.minimum(block, HYS_CLIP)
            blocks.append(block / np.sqrt((block**2).sum() + _EPS))
    vector = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
    norm = float(np.linalg.norm(vector))
    return (vector / norm if norm > 0 else vector).astype(np.float32)


def hog_descriptors(maps: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """(N, hog_dim) float32 for N binary maps."""
    if len(maps) == 0:
        return np.zeros((0, hog_dim()), np.float32)
    return np.stack([hog_descriptor(m) for m in maps])


def photo_edge_maps(dataset: SketchPhotoDataset, indices) -> list[np.ndarray]:
    """Canny edge maps of the given photos (the HOG reference's input, no network)."""
    return [canny_edge_map(read_rgb(dataset.photos[i].path)) for i in indices]


def sketch_maps(dataset: SketchPhotoDataset, indices) -> list[np.ndarray]:
    """Binary maps of the given sketches, preprocessed as for the network."""
    return [sketch_image_to_map(read_rgb(dataset.sketches[i].path)) for i in indices]
