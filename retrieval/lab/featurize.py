"""Trunk maps of a folder dataset, computed once and cached in FeatureStores.

Cache layout: ``<cache_dir>/<extractor version>/{photo,sketch}/`` FeatureStores keyed by a
63-bit hash of the file's path relative to the dataset root, so a subset, a re-run or
another command (training, evaluation) reuses what is there. The extractor version covers
the conv1-5 weights, HED weights, edge method and preprocessing, so a change never mixes
features. Photos go through edge detection; sketches through :func:`sketch_image_to_map`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from retrieval.engine.features import FeatureStore
from retrieval.engine.pipeline import FeatureExtractor
from retrieval.engine.preprocess import sketch_image_to_map
from retrieval.lab.data import SketchPhotoDataset, read_rgb


def path_id(relpath: str) -> int:
    """Stable non-negative int64 id for a dataset-relative path."""
    return int.from_bytes(hashlib.sha256(relpath.encode()).digest()[:8], "big") >> 1


def cached_features(
    store: FeatureStore,
    relpaths: Sequence[str],
    compute: Callable[[list[int]], np.ndarray],
    *,
    chunk: int = 32,
    desc: str = "features",
    progress: bool = True,
) -> np.ndarray:
    """float32 (N, C, H, W) for ``relpaths``; missing ones come from ``compute(indices)``."""
    ids = np.array([path_id(p) for p in relpaths], np.int64)
    have = set(store.ids().tolist())
    missing = [i for i, ident in enumerate(ids) if int(ident) not in have]
    bar = tqdm(total=len(missing), desc=desc, disable=not progress or not missing)
    for start in range(0, len(missing), chunk):
        part = missing[start : start + chunk]
        store.put(ids[part], compute(part))
        bar.update(len(part))
    bar.close()
    if not len(ids):
        return np.zeros((0, *(store.expected_shape or (512, 8, 8))), np.float32)
    return store.get(ids)


def dataset_features(
    dataset: SketchPhotoDataset,
    extractor: FeatureExtractor,
    cache_dir: Path,
    *,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """(photo features, sketch features) of every item of ``dataset``, cached."""
    root = Path(cache_dir) / extractor.version()
    photos = dataset.photos
    sketches = dataset.sketches

    def photo_chunk(idx: list[int]) -> np.ndarray:
        inputs = extractor.photo_inputs([read_rgb(photos[i].path) for i in idx])
        return extractor.features(inputs)

    def sketch_chunk(idx: list[int]) -> np.ndarray:
        maps = [sketch_image_to_map(read_rgb(sketches[i].path)) for i in idx]
        return extractor.features(maps)

    photo_feats = cached_features(
        FeatureStore(root / "photo", shape=extractor.feature_shape),
        [p.relpath for p in photos],
        photo_chunk,
        desc="photo trunk maps",
        progress=progress,
    )
    sketch_feats = cached_features(
        FeatureStore(root / "sketch", shape=extractor.feature_shape),
        [s.relpath for s in sketches],
        sketch_chunk,
        desc="sketch trunk maps",
        progress=progress,
    )
    return photo_feats, sketch_feats


def mirrored_sketch_features(
    dataset: SketchPhotoDataset,
    extractor: FeatureExtractor,
    cache_dir: Path,
    *,
    progress: bool = True,
) -> np.ndarray:
    """Trunk maps of every sketch's mirror image, cached beside the sketches' own.

    Search asks a sketch as the mean of its vector and its mirror image's
    (``pipeline.mirror_mean``); whatever compares stored queries the way search holds them
    (the closeness of personalization) needs both.
    """
    root = Path(cache_dir) / extractor.version()
    sketches = dataset.sketches

    def mirror_chunk(idx: list[int]) -> np.ndarray:
        maps = [sketch_image_to_map(read_rgb(sketches[i].path))[:, ::-1] for i in idx]
        return extractor.features([np.ascontiguousarray(m) for m in maps])

    return cached_features(
        FeatureStore(root / "sketch_mirror", shape=extractor.feature_shape),
        [s.relpath for s in sketches],
        mirror_chunk,
        desc="mirrored sketch trunk maps",
        progress=progress,
    )
