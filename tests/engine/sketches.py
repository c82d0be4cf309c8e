"""Synthetic drawings for the engine tests: shapes as canvas strokes, sketches and edge maps."""

from __future__ import annotations

import math

import cv2
import numpy as np

SHAPES = ("circle", "square", "triangle", "cross")


def shape_outline(shape: str, rng: np.random.Generator, jitter: float = 0.04) -> list[np.ndarray]:
    """Polylines in the unit square (centre 0.5), with per-vertex jitter and a random pose."""
    if shape == "circle":
        t = np.linspace(0, 2 * math.pi, 48)
        lines = [np.stack([np.cos(t), np.sin(t)], 1) * 0.4]
    elif shape == "square":
        lines = [np.array([[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]], float) * 0.35]
    elif shape == "triangle":
        t = np.array([90, 210, 330, 90]) * math.pi / 180
        lines = [np.stack([np.cos(t), -np.sin(t)], 1) * 0.42]
    elif shape == "cross":
        lines = [np.array([[-0.4, 0], [0.4, 0]]), np.array([[0, -0.4], [0, 0.4]])]
    else:
        raise ValueError(shape)
    angle = rng.uniform(-0.25, 0.25)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    scale = rng.uniform(0.8, 1.1)
    shift = rng.uniform(-0.06, 0.06, 2)
    out = []
    for line in lines:
        # Jitter the vertices, then densify: wobbly but smooth lines, like a hand's.
        wobbly = line + rng.normal(0, jitter, line.shape) * 0.3
        if np.allclose(line[0], line[-1]):
            wobbly[-1] = wobbly[0]  # closed shapes stay closed
        dense = _densify(wobbly, 24 if len(line) < 10 else 2)
        out.append(dense @ rot.T * scale + shift + 0.5)
    return out


def _densify(line: np.ndarray, per_segment: int) -> np.ndarray:
    points = [
        a + (b - a) * t
        for a, b in zip(line[:-1], line[1:], strict=True)
        for t in np.linspace(0, 1, per_segment, endpoint=False)
    ]
    return np.array([*points, line[-1]])


def draw_lines(lines: list[np.ndarray], size: int = 256, width: float = 2.5) -> np.ndarray:
    """Anti-aliased black polylines on white, like a Sketchy sketch PNG (gray uint8)."""
    ss = 4
    canvas = np.full((size * ss, size * ss), 255, np.uint8)
    for line in lines:
        pts = np.rint(line * size * ss).astype(np.int32)
        cv2.polylines(canvas, [pts], False, 0, max(1, round(width * ss)), cv2.LINE_AA)
    return cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)


def as_payload(
    lines: list[np.ndarray], *, canvas: tuple[int, int] = (800, 600), width: float = 5.0
) -> dict:
    """The same polylines as a canvas stroke payload, drawn in a part of a larger canvas."""
    w, h = canvas
    side = min(w, h) * 0.5
    return {
        "width": w,
        "height": h,
        "strokes": [
            {"points": (line * side + [w * 0.3, h * 0.2]).tolist(), "width": width, "erase": False}
            for line in lines
        ],
    }


def edge_map_like_photo(lines: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """A binary 'photo edge map': the outline, broken in places, plus clutter segments."""
    gray = draw_lines(lines, width=2.0)
    for _ in range(4):  # background clutter
        a = rng.uniform(0, 256, 2)
        b = a + rng.normal(0, 25, 2)
        cv2.line(gray, tuple(int(v) for v in a), tuple(int(v) for v in b), 0, 2)
    for _ in range(3):  # gaps in the outline
        y, x = rng.integers(0, 240, 2)
        gray[y : y + 10, x : x + 10] = 255
    return np.where(gray > 127, 255, 0).astype(np.uint8)
