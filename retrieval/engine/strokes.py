"""Stroke JSON from the browser canvas -> validated strokes -> 256x256 binary sketch map.

Payload (coordinates in canvas pixels; a 1-point stroke is a dot)::

    {"width": W, "height": H,
     "strokes": [{"points": [[x, y], ...], "width": 4.0, "erase": false}, ...]}

Rasterisation follows the canvas: strokes in order, round caps and joins, eraser strokes
paint background over earlier ink, nothing outside the W x H canvas. Then the sketch is
normalised to the training distribution (see :mod:`.preprocess`): cropped to its visible
ink, scaled so the box's longer side is ``NORMALIZED_INK_SIDE``, centred, and drawn with a
fixed stroke width so the median ink stroke measures like a Sketchy stroke (~2.5 px) however
far the user zoomed. Eraser widths keep their ratio to the ink width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Any

import cv2
import numpy as np

from .encoder import INPUT_SIZE
from .errors import SketchError
from .preprocess import NORMALIZED_INK_SIDE, SKETCH_THRESHOLD, binarize, ink_bbox

MAX_CANVAS_SIDE = 4096
MAX_STROKES = 2000
MAX_POINTS = 50_000
MAX_STROKE_WIDTH = 512.0
DEFAULT_STROKE_WIDTH = 4.0
# Beyond this a coordinate is a bug or an attack, not a drag off the canvas edge.
MAX_ABS_COORDINATE = 1_000_000.0
# Drawn width (output pixels) of the median ink stroke; after the 4x supersampled render is
# reduced and binarised at 200 it measures ~2.5 px, like Sketchy's strokes.
TARGET_STROKE_WIDTH = 2.3
SUPERSAMPLE = 4
# A drawing a few canvas pixels wide is not blown up further than this (output px per
# canvas px): a lone dot stays a dot instead of a disc filling the frame.
MAX_UPSCALE = 16.0


@dataclass(frozen=True)
class Stroke:
    points: np.ndarray  # (P, 2) float64, canvas pixels
    width: float
    erase: bool


@dataclass(frozen=True)
class SketchPayload:
    width: float
    height: float
    strokes: tuple[Stroke, ...]


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def validate_payload(payload: Any) -> SketchPayload:
    """Check the payload's shape and limits; raise :class:`SketchError` with a clear message."""
    if not isinstance(payload, dict):
        raise SketchError("The sketch must be a JSON object with width, height and strokes.")
    size = []
    for key in ("width", "height"):
        value = payload.get(key)
        if value is None:
            raise SketchError(f"The sketch has no canvas {key}.")
        if not _is_number(value) or not math.isfinite(value):
            raise SketchError(f"The canvas {key} must be a number.")
        if not 1 <= value <= MAX_CANVAS_SIDE:
            raise SketchError(f"The canvas {key} must be between 1 and {MAX_CANVAS_SIDE} pixels.")
        size.append(float(value))
    raw_strokes = payload.get("strokes")
    if not isinstance(raw_strokes, list):
        raise SketchError("The sketch must have a list of strokes.")
    if not raw_strokes:
        raise SketchError("The sketch is empty: draw something first.")
    if len(raw_strokes) > MAX_STROKES:
        raise SketchError(f"The sketch has too many strokes (at most {MAX_STROKES}).")
    strokes = []
    total_points = 0
    for i, raw in enumerate(raw_strokes, start=1):
        stroke = _validate_stroke(raw, i)
        total_points += len(stroke.points)
        if total_points > MAX_POINTS:
            raise SketchError(f"The sketch has too many points (at most {MAX_POINTS}).")
        strokes.append(stroke)
    if all(s.erase for s in strokes):
        raise SketchError("The sketch is empty: draw something first.")
    return SketchPayload(width=size[0], height=size[1], strokes=tuple(strokes))


def _validate_stroke(raw: Any, number: int) -> Stroke:
    if not isinstance(raw, dict):
        raise SketchError(f"Stroke {number} must be an object with points.")
    points = raw.get("points")
    if not isinstance(points, list) or not points:
        raise SketchError(f"Stroke {number} must have a non-empty list of points.")
    if len(points) > MAX_POINTS:
        raise SketchError(f"The sketch has too many points (at most {MAX_POINTS}).")
    for point in points:
        if (
            not isinstance(point, list | tuple)
            or len(point) != 2
            or not all(_is_number(v) for v in point)
        ):
            raise SketchError(f"Stroke {number} has a point that is not a pair of numbers.")
    array = np.asarray(points, dtype=np.float64)
    if not np.isfinite(array).all():
        raise SketchError(f"Stroke {number} has a coordinate that is not a finite number.")
    if np.abs(array).max() > MAX_ABS_COORDINATE:
        raise SketchError(f"Stroke {number} has a coordinate far outside the canvas.")
    width = raw.get("width", DEFAULT_STROKE_WIDTH)
    if not _is_number(width) or not math.isfinite(width) or not 0 < width <= MAX_STROKE_WIDTH:
        raise SketchError(
            f"Stroke {number} has a bad width (a number above 0 and at most {MAX_STROKE_WIDTH:g})."
        )
    erase = raw.get("erase", False)
    if not isinstance(erase, bool):
        raise SketchError(f"Stroke {number}: 'erase' must be true or false.")
    return Stroke(points=array, width=float(width), erase=erase)


def _render(
    sketch: SketchPayload, scale: float, offset: np.ndarray, width_factor: float | None
) -> np.ndarray:
    """Draw the strokes at ``p * scale + offset`` (output pixels), 4x supersampled.

    ``width_factor`` maps a pen width to output pixels; ``None`` keeps the canvas's own
    proportions (pen width * scale). Returns the supersampled gray canvas.
    """
    ss = SUPERSAMPLE
    big = INPUT_SIZE * ss
    canvas = np.full((big, big), 255, dtype=np.uint8)
    for stroke in sketch.strokes:
        colour = 255 if stroke.erase else 0
        pts = np.rint((stroke.points * scale + offset) * ss)
        # Validation bounds coordinates and the fit caps the scale, so this never clips a
        # real drawing; it only keeps cv2 inside int32.
        pts = np.clip(pts, -(2**30), 2**30).astype(np.int32)
        width = stroke.width * (scale if width_factor is None else width_factor)
        thickness = max(1, round(width * ss))
        if len(pts) == 1 or (pts == pts[0]).all():
            radius = max(1, round(width * ss / 2))
            cv2.circle(canvas, (int(pts[0][0]), int(pts[0][1])), radius, colour, -1)
            continue
        # cv2 draws every thick segment with round ends, so joins are round too (the same
        # pixels as one cv2.line per segment, checked, in one call).
        cv2.polylines(canvas, [pts.reshape(-1, 1, 2)], False, colour, thickness)
    # The canvas shows nothing outside its own rectangle.
    x0, y0 = (offset * ss).round().astype(np.int64)
    x1 = round((sketch.width * scale + offset[0]) * ss)
    y1 = round((sketch.height * scale + offset[1]) * ss)
    visible = np.zeros_like(canvas, dtype=bool)
    visible[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = True
    canvas[~visible] = 255
    return canvas


def _reduce(canvas: np.ndarray) -> np.ndarray:
    return cv2.resize(canvas, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)


def _fit(box: tuple[float, float, float, float], side: float) -> tuple[float, np.ndarray, float]:
    """(scale, offset, span) mapping the (x0, y0, x1, y1) box onto a centred ``side`` box."""
    x0, y0, x1, y1 = box
    span = max(x1 - x0, y1 - y0, 1e-6)
    scale = min(side / span, MAX_UPSCALE)
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    return scale, INPUT_SIZE / 2 - centre * scale, span


def rasterize_strokes(
    payload: Any, *, ink_side: int = NORMALIZED_INK_SIDE, stroke_width: float = TARGET_STROKE_WIDTH
) -> np.ndarray:
    """Validate and rasterise a stroke payload into a normalised 256x256 binary map."""
    sketch = validate_payload(payload)
    ink = [s for s in sketch.strokes if not s.erase]
    width_factor = stroke_width / float(np.median([s.width for s in ink]))
    ss = SUPERSAMPLE
    # Pass 1: the whole canvas as the canvas shows it, to find the visible ink (erasing and
    # the canvas edge decide what is visible, not the raw points).
    scale0 = INPUT_SIZE / max(sketch.width, sketch.height)
    first = _render(sketch, scale0, np.zeros(2), None)
    box = ink_bbox(first, SKETCH_THRESHOLD)
    if box is None:
        raise SketchError("The sketch is empty: everything drawn was erased.")
    top, left, bottom, right = box
    canvas_box = (left / ss / scale0, top / ss / scale0, right / ss / scale0, bottom / ss / scale0)
    scale, offset, _ = _fit(canvas_box, ink_side)
    gray = _reduce(_render(sketch, scale, offset, width_factor))
    # Pass 3: strokes now have the fixed width, which does not scale with the drawing;
    # correct the fit on what was really drawn.
    box = ink_bbox(gray, SKETCH_THRESHOLD)
    if box is not None:
        top, left, bottom, right = box
        visible = max(bottom - top, right - left)
        centre = np.array([(left + right) / 2, (top + bottom) / 2])
        if abs(visible - ink_side) > 1 or np.abs(centre - INPUT_SIZE / 2).max() > 1:
            grow = (ink_side - stroke_width) / max(visible - stroke_width, 1e-6)
            grow = min(grow, MAX_UPSCALE / scale)
            scale *= grow
            offset = (offset - centre) * grow + INPUT_SIZE / 2
            gray = _reduce(_render(sketch, scale, offset, width_factor))
    binary = binarize(gray, SKETCH_THRESHOLD)
    if not (binary == 0).any():
        raise SketchError("The sketch is empty: everything drawn was erased.")
    return binary
