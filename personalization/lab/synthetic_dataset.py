"""A tiny synthetic dataset in the plain folder layout, with sub-categories, drawn with cv2.

    python -m personalization.lab synthetic-data OUT [--seed 0]

Parents are shapes (circle, square, triangle, cross). A photo is a filled shape on a
coloured background; its *sub-category* is an interior pattern (stripes, dots, an inner
ring) that shows in the photo's edge map. A sketch is the shape's outline only, drawn from
one photo (``<stem>-<k>.png``), so a sketch of a parent is ambiguous between its
sub-categories: the situation of section IV, where only a user's feedback can say which
sub-category is meant. ``subcategories.tsv`` records each photo's sub-category.

Layout (what :class:`retrieval.lab.data.SketchPhotoDataset` reads)::

    OUT/photo/<parent>/<sub>_<i>.jpg
    OUT/sketch/<parent>/<sub>_<i>-<k>.png
    OUT/classes.txt, OUT/subcategories.tsv
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

SHAPES = ("circle", "square", "triangle", "cross")
PATTERNS = ("striped", "dotted", "ringed")
SIZE = 256


def _outline(shape: str, centre: np.ndarray, r: int) -> list[np.ndarray]:
    """Polygon(s) of ``shape`` (a circle is a 48-gon), int32 (N, 2) each."""
    cx, cy = int(centre[0]), int(centre[1])
    if shape == "circle":
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        return [np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1).astype(np.int32)]
    if shape == "square":
        return [np.array([[cx - r, cy - r], [cx + r, cy - r], [cx + r, cy + r], [cx - r, cy + r]])]
    if shape == "triangle":
        return [np.array([[cx, cy - r], [cx + r, cy + r], [cx - r, cy + r]], np.int32)]
    w = max(r // 3, 6)
    return [
        np.array(
            [
                [cx - w, cy - r], [cx + w, cy - r], [cx + w, cy - w], [cx + r, cy - w],
                [cx + r, cy + w], [cx + w, cy + w], [cx + w, cy + r], [cx - w, cy + r],
                [cx - w, cy + w], [cx - r, cy + w], [cx - r, cy - w], [cx - w, cy - w],
            ],
            np.int32,
        )
    ]  # fmt: skip


def _pattern(image: np.ndarray, mask: np.ndarray, pattern: str, rng: np.random.Generator):
    """Draw ``pattern`` in a contrasting colour, clipped to the shape's ``mask``."""
    layer = image.copy()
    colour = tuple(int(v) for v in rng.integers(200, 256, 3))
    ys, xs = np.nonzero(mask)
    cx, cy = int(xs.mean()), int(ys.mean())
    if pattern == "striped":
        for y in range(int(ys.min()) + 16, int(ys.max()) - 8, 28):
            cv2.line(layer, (int(xs.min()), y), (int(xs.max()), y), colour, 4)
    elif pattern == "dotted":
        for dy in (-24, 0, 24):
            for dx in (-24, 0, 24):
                cv2.circle(layer, (cx + dx, cy + dy), 6, colour, -1)
    elif pattern == "ringed":
        cv2.circle(layer, (cx, cy), 22, colour, 5)
        cv2.circle(layer, (cx, cy), 40, colour, 5)
    image[mask] = layer[mask]


def draw_photo(shape: str, pattern: str | None, rng: np.random.Generator) -> np.ndarray:
    """A 256x256 RGB photo: a filled, jittered ``shape`` with an interior ``pattern``."""
    bg = tuple(int(v) for v in rng.integers(150, 256, 3))
    image = np.full((SIZE, SIZE, 3), bg, np.uint8)
    centre = SIZE // 2 + rng.integers(-14, 15, 2)
    r = int(rng.integers(72, 92))
    mask = np.zeros((SIZE, SIZE), np.uint8)
    cv2.fillPoly(mask, _outline(shape, centre, r), 255)
    fill = tuple(int(v) for v in rng.integers(0, 90, 3))
    image[mask > 0] = fill
    if pattern:
        _pattern(image, mask > 0, pattern, rng)
    return image


def draw_sketch(shape: str, rng: np.random.Generator) -> np.ndarray:
    """A 256x256 RGB sketch: the outline of a jittered ``shape``, black on white."""
    image = np.full((SIZE, SIZE, 3), 255, np.uint8)
    centre = SIZE // 2 + rng.integers(-14, 15, 2)
    r = int(rng.integers(72, 92))
    cv2.polylines(image, _outline(shape, centre, r), True, (0, 0, 0), 3)
    return image


def make_synthetic_dataset(
    root: Path,
    *,
    subcategories: Sequence[int] = (2, 2, 1, 1),
    photos: int = 6,
    sketches: int = 5,
    seed: int = 0,
) -> Path:
    """Write the dataset under ``root``; returns ``root``.

    ``subcategories[i]`` is how many sub-categories shape ``SHAPES[i]`` has (1 = the plain
    shape only; at most ``len(PATTERNS)``); its ``photos`` photos are spread over them in
    turn; ``sketches`` outlines per parent are drawn from its first photos (one each, cycling).
    """
    if len(subcategories) > len(SHAPES) or not all(1 <= n <= len(PATTERNS) for n in subcategories):
        raise ValueError(f"at most {len(SHAPES)} parents of 1..{len(PATTERNS)} sub-categories")
    root = Path(root)
    rng = np.random.default_rng(seed)
    rows = ["path\tclass\tsubcategory"]
    shapes = SHAPES[: len(subcategories)]
    for shape, n_subs in zip(shapes, subcategories, strict=True):
        (root / "photo" / shape).mkdir(parents=True, exist_ok=True)
        (root / "sketch" / shape).mkdir(parents=True, exist_ok=True)
        stems = []
        for i in range(photos):
            pattern = PATTERNS[i % n_subs] if n_subs > 1 else None
            sub = f"{shape}-{pattern or 'plain'}"
            stem = f"{sub}_{i}"
            relpath = f"photo/{shape}/{stem}.jpg"
            cv2.imwrite(str(root / relpath), draw_photo(shape, pattern, rng)[:, :, ::-1])
            rows.append(f"{relpath}\t{shape}\t{sub}")
            stems.append(stem)
        for k in range(sketches):
            stem = stems[k % len(stems)]
            path = root / "sketch" / shape / f"{stem}-{k // len(stems) + 1}.png"
            cv2.imwrite(str(path), draw_sketch(shape, rng))
    (root / "classes.txt").write_text("\n".join(shapes) + "\n")
    (root / "subcategories.tsv").write_text("\n".join(rows) + "\n")
    return root
