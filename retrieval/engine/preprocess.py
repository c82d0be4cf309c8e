"""Sketch image -> 256x256 binary map (section III.B), and the normalisation of framing.

Sketches are resampled to 256x256 and binarised at 200 (the paper). On top of the paper, a
sketch is *normalised*: cropped to its ink bounding box and scaled, aspect kept, so that the
box's longer side is :data:`NORMALIZED_INK_SIDE` pixels, centred. Canvas sketches come at any
size and position, Sketchy's training sketches at one typical framing (median bounding box
0.65 of the frame, measured on 300 sketches of sketchy-mini); normalising both the training
sketches and the queries the same way puts every sketch in one distribution.

A binary map is uint8 (256, 256): 0 = ink (black), 255 = background (white).
"""

from __future__ import annotations

import cv2
import numpy as np

from .encoder import INPUT_SIZE
from .errors import SketchError

SKETCH_THRESHOLD = 200  # grey values <= 200 are ink (III.B: "threshold of 200")
# Longer side of the ink bounding box after normalisation: the median over Sketchy sketches
# (0.648 * 256); i.e. a margin of ~45 px on the longer side.
NORMALIZED_INK_SIDE = 166


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 gray (H, W), RGB (H, W, 3) or RGBA (H, W, 4, flattened onto white) -> gray."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise SketchError("A sketch image must be 8-bit.")
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        rgb = image[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        image = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    raise SketchError("A sketch image must be gray, RGB or RGBA.")


def binarize(gray: np.ndarray, threshold: int) -> np.ndarray:
    """Values above ``threshold`` become background (255), the rest ink (0)."""
    return np.where(gray > threshold, 255, 0).astype(np.uint8)


def resample(gray: np.ndarray, size: int) -> np.ndarray:
    """Resize a square-ish gray image to ``size`` x ``size`` (area filter when shrinking)."""
    h, w = gray.shape
    if (h, w) == (size, size):
        return gray
    interp = cv2.INTER_AREA if max(h, w) > size else cv2.INTER_LINEAR
    return cv2.resize(gray, (size, size), interpolation=interp)


Box = tuple[int, int, int, int]


def ink_bbox(gray: np.ndarray, threshold: int = SKETCH_THRESHOLD) -> Box | None:
    """(top, left, bottom, right) exclusive bounds of pixels <= threshold, or None."""
    ink = gray <= threshold
    rows = np.flatnonzero(ink.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(ink.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def normalize_framing(
    gray: np.ndarray, *, ink_side: int = NORMALIZED_INK_SIDE, size: int = INPUT_SIZE
) -> np.ndarray:
    """Crop a gray sketch to its ink, scale the longer side to ``ink_side``, centre on white."""
    box = ink_bbox(gray)
    if box is None:
        raise SketchError("The sketch is empty: draw something first.")
    top, left, bottom, right = box
    crop = gray[top:bottom, left:right]
    h, w = crop.shape
    scale = ink_side / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    crop = cv2.resize(crop, (new_w, new_h), interpolation=interp)
    out = np.full((size, size), 255, dtype=np.uint8)
    y0, x0 = (size - new_h) // 2, (size - new_w) // 2
    out[y0 : y0 + new_h, x0 : x0 + new_w] = crop
    return out


def pad_gray_to_square(gray: np.ndarray) -> np.ndarray:
    h, w = gray.shape
    side = max(h, w)
    if h == w:
        return gray
    out = np.full((side, side), 255, dtype=np.uint8)
    y0, x0 = (side - h) // 2, (side - w) // 2
    out[y0 : y0 + h, x0 : x0 + w] = gray
    return out


def sketch_image_to_map(image: np.ndarray, *, normalize: bool = True) -> np.ndarray:
    """A sketch image (dark strokes on light paper) -> binary 256x256 map.

    Non-square images are padded with white first, so the drawing is never distorted.
    """
    gray = to_gray(image)
    if gray.size == 0:
        raise SketchError("The sketch image is empty.")
    gray = resample(pad_gray_to_square(gray), INPUT_SIZE)
    if normalize:
        gray = normalize_framing(gray)
    binary = binarize(gray, SKETCH_THRESHOLD)
    if not (binary == 0).any():
        raise SketchError("The sketch is empty: draw something first.")
    return binary


def ink_stats(binary: np.ndarray) -> dict[str, float]:
    """Ink fraction, bounding-box fill (longer side / frame) and mean stroke width in pixels.

    Stroke width is 2 * area / perimeter (a stroke of width w and length L >> w has area wL
    and perimeter ~2L), counting 4-neighbour ink/background transitions as perimeter.
    """
    ink = (binary == 0).astype(np.int32)
    area = int(ink.sum())
    if area == 0:
        return {"ink_fraction": 0.0, "bbox_fill": 0.0, "stroke_width": 0.0}
    perimeter = int(np.abs(np.diff(ink, axis=0)).sum() + np.abs(np.diff(ink, axis=1)).sum())
    top, left, bottom, right = ink_bbox(np.where(ink > 0, 0, 255).astype(np.uint8), 127)
    return {
        "ink_fraction": area / ink.size,
        "bbox_fill": max(bottom - top, right - left) / binary.shape[0],
        "stroke_width": 2.0 * area / max(perimeter, 1),
    }
