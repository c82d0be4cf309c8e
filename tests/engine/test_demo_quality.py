"""What a new user would try first: simple drawings on the canvas against the demo library.

Each drawing goes through the canvas path (stroke JSON -> :func:`rasterize_strokes`) and the
shipped general model, and is searched as search serves it (the drawing and its mirror
image averaged, then expanded with its nearest photos) among the 300 demo photos (12
categories of 25, so a random ranking puts 0.83 of a category in the top 10). Each threshold
sits below the count measured with the shipped head (``MEASURED`` in the table) and well
above chance, so the test fails when a model change makes search stop finding what was drawn.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from retrieval.engine.index import VectorIndex
from retrieval.engine.pipeline import Engine, EngineConfig
from retrieval.engine.query_expansion import DEFAULT_NEIGHBOURS, expand_against
from retrieval.lab.data import read_rgb

DEMO = Path(__file__).resolve().parents[2] / "retrieval" / "demo_library"
CANVAS = 400


def _circle(cx: float, cy: float, r: float, n: int = 40, start: float = 0, end: float = 360):
    t = np.radians(np.linspace(start, end, n))
    return [[cx + r * math.cos(a), cy + r * math.sin(a)] for a in t]


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 48):
    t = np.linspace(0, 2 * math.pi, n)
    return [[cx + rx * math.cos(a), cy + ry * math.sin(a)] for a in t]


DRAWINGS: dict[str, list[list[list[float]]]] = {
    "house": [
        [[100, 200], [100, 330], [300, 330], [300, 200], [100, 200]],
        [[80, 210], [200, 100], [320, 210]],
        [[180, 330], [180, 260], [220, 260], [220, 330]],
        [[120, 230], [160, 230], [160, 260], [120, 260], [120, 230]],
    ],
    "boat": [
        [[80, 280], [320, 280], [280, 330], [120, 330], [80, 280]],
        [[200, 280], [200, 70]],
        [[200, 80], [300, 260], [200, 260]],
        [[195, 100], [120, 260], [195, 260]],
    ],
    "vehicle": [
        [
            [60, 260],
            [60, 210],
            [130, 200],
            [170, 150],
            [270, 150],
            [310, 200],
            [350, 210],
            [350, 260],
            [60, 260],
        ],
        _circle(120, 265, 30),
        _circle(290, 265, 30),
        [[180, 160], [180, 200], [290, 200], [260, 160], [180, 160]],
    ],
    "flower": [
        _circle(200, 150, 25),
        *[
            _circle(200 + 50 * math.cos(math.radians(a)), 150 + 50 * math.sin(math.radians(a)), 25)
            for a in range(0, 360, 60)
        ],
        [[200, 200], [200, 360]],
        [[200, 300], [150, 270], [200, 280]],
    ],
    "beverage": [
        [[130, 120], [140, 320], [260, 320], [270, 120]],
        _ellipse(200, 120, 70, 15),
        _circle(270, 220, 45, start=-80, end=80),
    ],
}
# Category of the demo library each drawing shows -> (measured hits in the top 10 with the
# shipped head, threshold the test holds).
# Measured 2026-12-02 with the EfficientNet-Lite2 head, mirror-averaged and expanded queries
# (3 photos; the plain nearest-neighbour ranking found 5 / 4 / 5 / 7 / 9). A plain circle
# with a stalk and a leaf ("fruit") found 1 fruit in 10, i.e. chance: not something a test
# can hold.
MEASURED = {
    "house": (6, 4),
    "boat": (4, 3),
    "vehicle": (7, 5),
    "flower": (8, 6),
    "beverage": (9, 7),
}


# Distance (unit vectors: 0..2) between a drawing's canvas rendering and its PNG: measured
# 0.13-0.41 (the vehicle the farthest); between different drawings 0.98-1.5.
CANVAS_TO_PNG_MAX_DISTANCE = 0.6


def _payload(lines: list[list[list[float]]]) -> dict:
    return {
        "width": CANVAS,
        "height": CANVAS,
        "strokes": [{"points": line, "width": 4.0, "erase": False} for line in lines],
    }


@pytest.fixture(scope="module")
def demo_index(model_dir):
    rows = list(csv.DictReader((DEMO / "manifest.csv").open()))
    engine = Engine(EngineConfig(model_dir=model_dir, batch_size=32))
    vectors = []
    for start in range(0, len(rows), 32):
        chunk = rows[start : start + 32]
        photos = [read_rgb(DEMO / "images" / row["file"]) for row in chunk]
        vectors += [e.vector for e in engine.embed_photos(photos)]
    index = VectorIndex(512)
    index.add(np.arange(len(rows)), np.stack(vectors))
    return engine, index, np.stack(vectors), [row["category"] for row in rows]


@pytest.mark.slow
@pytest.mark.parametrize("category", sorted(DRAWINGS))
def test_a_simple_drawing_finds_its_category_in_the_demo_library(demo_index, category):
    engine, index, photo_vectors, categories = demo_index
    vector = engine.embed_sketch_strokes(_payload(DRAWINGS[category])).vector
    served = expand_against(vector[None], photo_vectors, DEFAULT_NEIGHBOURS)
    _, ids = index.search(served, 10)
    hits = sum(categories[int(i)] == category for i in ids[0])
    assert hits >= MEASURED[category][1], f"{category}: {hits} of the top 10"


def _png_of(lines: list[list[list[float]]], size: int = 256) -> np.ndarray:
    """The same drawing as a user's uploaded PNG: black 2.5 px lines on white, at its size."""
    import cv2

    scale = size / CANVAS
    image = np.full((size * 4, size * 4), 255, np.uint8)
    for line in lines:
        points = (np.asarray(line) * scale * 4).round().astype(np.int32)
        cv2.polylines(image, [points], False, 0, thickness=10, lineType=cv2.LINE_AA)
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


@pytest.mark.slow
def test_canvas_strokes_embed_like_an_uploaded_png_of_the_same_drawing(demo_index):
    # The trunk was trained on Sketchy PNGs; what the canvas path renders must land where a
    # PNG of the same drawing lands, closer to it than to any other drawing's PNG.
    engine = demo_index[0]
    names = sorted(DRAWINGS)
    canvas = np.stack([engine.embed_sketch_strokes(_payload(DRAWINGS[n])).vector for n in names])
    pngs = np.stack([engine.embed_sketch_image(_png_of(DRAWINGS[n])).vector for n in names])
    distances = np.linalg.norm(canvas[:, None] - pngs[None], axis=2)
    assert (distances.argmin(axis=1) == np.arange(len(names))).all(), distances.round(3)
    same = np.diag(distances)
    assert same.max() <= CANVAS_TO_PNG_MAX_DISTANCE, same.round(3)
