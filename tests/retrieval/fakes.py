"""A fast stand-in for the engine and small synthetic photos, for the retrieval tests.

:class:`FakeEngine` keeps the engine's real preprocessing (Canny edge maps, stroke
rasterisation and sketch-image maps, input validation and its errors) and replaces only the
VGG network: its "conv5 map" is the 8x8 ink density of the binary map scaled by fixed
per-channel weights, and its "head" a fixed random projection of that map. Distances thus
follow how much two drawings overlap, which is enough to check ordering and plumbing in
milliseconds; the real network is exercised by the worker and browser tests.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from retrieval.engine.edges import canny_edge_map
from retrieval.engine.errors import SketchError
from retrieval.engine.preprocess import sketch_image_to_map
from retrieval.engine.strokes import rasterize_strokes

_rng = np.random.default_rng(7)
_CHANNEL_WEIGHTS = _rng.uniform(0.5, 1.5, size=512).astype(np.float32)
_PROJECTION = _rng.normal(size=(512, 64)).astype(np.float32)


@dataclass(frozen=True)
class Embedding:
    edge_map: np.ndarray | None
    sketch_map: np.ndarray | None
    features: np.ndarray
    vector: np.ndarray


class FakeEngine:
    # Its maps are VGG-shaped (512x8x8) and its "head" has no pooled stage.
    has_pooled_features = False

    def __init__(self, model_version: str = "fake-1") -> None:
        self.model_version = model_version
        self.photos_embedded = 0
        self.fail_on_call: int | None = None  # raise inside the n-th embed_photos call
        self.calls = 0

    # --- the engine's interface ---------------------------------------------------------
    def embed_photos(self, images: list[np.ndarray]) -> list[Embedding]:
        self.calls += 1
        if self.fail_on_call is not None and self.calls == self.fail_on_call:
            raise RuntimeError("simulated crash inside the engine")
        out = []
        for image in images:
            if np.asarray(image).dtype != np.uint8:
                raise ValueError("photos must be uint8 arrays")
            edge_map = canny_edge_map(np.asarray(image))
            features = self._features(edge_map)
            out.append(Embedding(edge_map, None, features, self.head_vectors(features[None])[0]))
        self.photos_embedded += len(out)
        return out

    def embed_sketch_strokes(self, payload: dict) -> Embedding:
        return self._sketch(rasterize_strokes(payload))

    def embed_sketch_image(self, image: np.ndarray) -> Embedding:
        return self._sketch(sketch_image_to_map(image))

    def head_vectors(self, features: np.ndarray, head: object = None) -> np.ndarray:
        array = np.asarray(features, dtype=np.float32)
        if array.ndim != 4 or array.shape[1:] != (512, 8, 8):
            raise ValueError(f"features must be (N, 512, 8, 8), got {array.shape}")
        flat = array.reshape(len(array), 512, 64)
        vectors = np.einsum("ncs,cs->nc", flat, _PROJECTION)
        # Unit length, as the real head's output (search's query expansion relies on it).
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)

    # --- internals ----------------------------------------------------------------------
    def _sketch(self, sketch_map: np.ndarray) -> Embedding:
        if not (sketch_map == 0).any():
            raise SketchError("The sketch is empty: draw something first.")
        features = self._features(sketch_map)
        return Embedding(None, sketch_map, features, self.head_vectors(features[None])[0])

    @staticmethod
    def _features(binary_map: np.ndarray) -> np.ndarray:
        ink = (binary_map == 0).astype(np.float32)
        pooled = cv2.resize(ink, (8, 8), interpolation=cv2.INTER_AREA)
        return (pooled[None] * _CHANNEL_WEIGHTS[:, None, None]).astype(np.float16)


# --- synthetic photos and sketches ------------------------------------------------------

SHAPES = ("circle", "square", "triangle", "cross", "bars")


def shape_image(shape: str, size: int = 128, *, seed: int = 0) -> np.ndarray:
    """A black outline of ``shape`` on white, RGB uint8; each seed (0..24) shifts or shrinks it
    a little, so photos of one shape differ (and are not refused as duplicates)."""
    image = np.full((size, size, 3), 255, np.uint8)
    c, r = size // 2 + seed % 5 - 2, int(size * 0.36) - seed // 5
    black, t = (0, 0, 0), max(2, size // 40)
    if shape == "circle":
        cv2.circle(image, (c, c), r, black, t)
    elif shape == "square":
        cv2.rectangle(image, (c - r, c - r), (c + r, c + r), black, t)
    elif shape == "triangle":
        pts = np.array([[c, c - r], [c - r, c + r], [c + r, c + r]], np.int32)
        cv2.polylines(image, [pts], True, black, t)
    elif shape == "cross":
        cv2.line(image, (c - r, c - r), (c + r, c + r), black, t)
        cv2.line(image, (c - r, c + r), (c + r, c - r), black, t)
    elif shape == "bars":
        for y in (c - r, c, c + r):
            cv2.line(image, (c - r, y), (c + r, y), black, t)
    else:
        raise ValueError(shape)
    return image


def encode(image: np.ndarray, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, format=fmt)
    return out.getvalue()


def shape_png(shape: str, *, seed: int = 0, size: int = 128, fmt: str = "PNG") -> bytes:
    return encode(shape_image(shape, size, seed=seed), fmt)


def circle_strokes(n: int = 48, *, size: int = 512, radius: float = 150.0) -> dict:
    """A canvas payload: one closed stroke around the centre (what a user's circle sends)."""
    angles = np.linspace(0, 2 * np.pi, n)
    points = [[size / 2 + radius * np.cos(a), size / 2 + radius * np.sin(a)] for a in angles]
    return {
        "width": size,
        "height": size,
        "strokes": [{"points": points, "width": 4, "erase": False}],
    }


def square_strokes(*, size: int = 512, half: float = 150.0) -> dict:
    c = size / 2
    corners = [
        [c - half, c - half],
        [c + half, c - half],
        [c + half, c + half],
        [c - half, c + half],
    ]
    return {
        "width": size,
        "height": size,
        "strokes": [{"points": [*corners, corners[0]], "width": 4, "erase": False}],
    }
