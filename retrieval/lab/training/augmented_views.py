"""Cached trunk maps of a folder dataset, each image in several augmented views.

With the trunk frozen, training only ever sees cached maps, so augmentation happens before
the trunk and is cached too: every image in a few fixed, seeded views.

- photos: ``orig``; ``flip`` (mirror); ``crop`` (a random resized crop, 55-90% of the area,
  mirrored half the time);
- sketches: ``orig``; ``flip``; ``thick`` (strokes thickened by a 3x3 dilation of the ink,
  mirrored half the time); ``zoom`` (the drawing scaled 0.75-1.1 and shifted, mirrored half
  the time).

The ``orig`` view is keyed exactly as :func:`retrieval.lab.featurize.dataset_features` keys its
entries (the path relative to the dataset root), so evaluation reuses it; other views are keyed by
``<relpath>#<view>``. Views are pure functions of (seed, path), so a rerun computes only
what is missing. Layout: ``<cache>/<extractor version>/{photo,sketch}/`` FeatureStores.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from retrieval.engine.features import FeatureStore
from retrieval.engine.pipeline import FeatureExtractor
from retrieval.engine.preprocess import sketch_image_to_map
from retrieval.engine.trunks import INPUT_SIZE, square_photo
from retrieval.lab.data import SketchPhotoDataset, read_rgb
from retrieval.lab.featurize import path_id
from retrieval.lab.splits import _rng

PHOTO_VIEWS = ("orig", "flip", "crop")
SKETCH_VIEWS = ("orig", "flip", "thick", "zoom")


def view_key(relpath: str, view: str) -> int:
    return path_id(relpath if view == "orig" else f"{relpath}#{view}")


def photo_view(rgb: np.ndarray, view: str, rng: np.random.Generator) -> np.ndarray:
    """A square RGB photo (256x256) in ``view``."""
    photo = square_photo(rgb)
    if view == "orig":
        return photo
    if view == "flip":
        return np.ascontiguousarray(photo[:, ::-1])
    if view == "crop":
        area = rng.uniform(0.55, 0.9)
        aspect = np.exp(rng.uniform(np.log(0.8), np.log(1.25)))
        w = int(round(INPUT_SIZE * np.sqrt(area * aspect)))
        h = int(round(INPUT_SIZE * np.sqrt(area / aspect)))
        w, h = min(w, INPUT_SIZE), min(h, INPUT_SIZE)
        x0 = int(rng.integers(0, INPUT_SIZE - w + 1))
        y0 = int(rng.integers(0, INPUT_SIZE - h + 1))
        crop = cv2.resize(photo[y0 : y0 + h, x0 : x0 + w], (INPUT_SIZE, INPUT_SIZE))
        return np.ascontiguousarray(crop[:, ::-1] if rng.random() < 0.5 else crop)
    raise ValueError(f"unknown photo view {view!r}")


def sketch_view(sketch_map: np.ndarray, view: str, rng: np.random.Generator) -> np.ndarray:
    """A binary sketch map (0 = ink) in ``view``."""
    if view == "orig":
        return sketch_map
    if view == "flip":
        return np.ascontiguousarray(sketch_map[:, ::-1])
    flip = rng.random() < 0.5
    if view == "thick":
        # Ink is 0: a min-filter (erosion of the white background) widens every stroke.
        out = cv2.erode(sketch_map, np.ones((3, 3), np.uint8))
    elif view == "zoom":
        scale = rng.uniform(0.75, 1.1)
        dx, dy = rng.uniform(-20, 20, size=2)
        centre = INPUT_SIZE / 2
        matrix = np.array(
            [[scale, 0, (1 - scale) * centre + dx], [0, scale, (1 - scale) * centre + dy]]
        )
        warped = cv2.warpAffine(
            sketch_map, matrix, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_AREA, borderValue=255
        )
        out = np.where(warped <= 200, 0, 255).astype(np.uint8)
    else:
        raise ValueError(f"unknown sketch view {view!r}")
    return np.ascontiguousarray(out[:, ::-1] if flip else out)


def view_stores(extractor: FeatureExtractor, cache_dir: Path) -> dict[str, FeatureStore]:
    root = Path(cache_dir) / extractor.version()
    shape = extractor.feature_shape
    return {
        "photo": FeatureStore(root / "photo", shape=shape),
        "sketch": FeatureStore(root / "sketch", shape=shape),
    }


def _inputs_for(
    kind: str, dataset: SketchPhotoDataset, extractor: FeatureExtractor, seed: int
) -> Callable[[int, str], np.ndarray]:
    items = dataset.photos if kind == "photo" else dataset.sketches

    def make(i: int, view: str) -> np.ndarray:
        rng = _rng(seed, "view", view, items[i].relpath)
        image = read_rgb(items[i].path)
        if kind == "sketch":
            return sketch_view(sketch_image_to_map(image), view, rng)
        if extractor.uses_edges:
            # Edge trunks: the edge map of the augmented photo, as the product would compute.
            return extractor.edge_maps([photo_view(image, view, rng)])[0]
        return photo_view(image, view, rng)

    return make


def warm_views(
    dataset: SketchPhotoDataset,
    extractor: FeatureExtractor,
    cache_dir: Path,
    *,
    photo_views: tuple[str, ...] = PHOTO_VIEWS,
    sketch_views: tuple[str, ...] = SKETCH_VIEWS,
    seed: int = 0,
    chunk: int = 32,
    progress: bool = True,
) -> int:
    """Compute every missing (item, view) map; returns how many were computed."""
    stores = view_stores(extractor, cache_dir)
    todo: list[tuple[str, int, str]] = []
    for kind, views in (("photo", photo_views), ("sketch", sketch_views)):
        have = set(stores[kind].ids().tolist())
        items = dataset.photos if kind == "photo" else dataset.sketches
        for view in views:
            todo += [
                (kind, i, view)
                for i, item in enumerate(items)
                if view_key(item.relpath, view) not in have
            ]
    makers = {kind: _inputs_for(kind, dataset, extractor, seed) for kind in ("photo", "sketch")}
    bar = tqdm(total=len(todo), desc="trunk maps", disable=not progress, mininterval=15)
    for start in range(0, len(todo), chunk):
        part = todo[start : start + chunk]
        for kind in ("photo", "sketch"):
            sel = [(i, view) for k, i, view in part if k == kind]
            if not sel:
                continue
            inputs = [makers[kind](i, view) for i, view in sel]
            items = dataset.photos if kind == "photo" else dataset.sketches
            ids = [view_key(items[i].relpath, view) for i, view in sel]
            stores[kind].put(ids, extractor.features(inputs))
        bar.update(len(part))
    bar.close()
    return len(todo)


def load_views(store: FeatureStore, relpaths: list[str], views: tuple[str, ...]) -> np.ndarray:
    """float16 (V, N, C, H, W): every view of every item (all must be cached)."""
    return np.stack(
        [store.get([view_key(p, v) for p in relpaths]).astype(np.float16) for v in views]
    )
