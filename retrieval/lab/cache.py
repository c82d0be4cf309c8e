"""The shared trunk-map cache (``DEFAULT_CACHE_DIR``) and filling its VGG-16 conv5 part in a
balanced order, resumably (``python -m retrieval.lab cache conv5``).

The cache is the one :mod:`retrieval.lab.featurize` reads (``<cache>/<extractor
version>/{photo,sketch}``, keyed by dataset-relative path), so training, evaluation, the
studies and the protocol share what any of them computed. conv1-5 costs ~1-3 s per image on
a busy 2-core CPU, so the order matters: items are computed round-robin over categories
(round k holds the k-th photo and k-th sketch of every category), photos that have sketches
first. Stopping at any point leaves a usable, balanced subset; rerunning continues where it
stopped.
"""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from retrieval.engine.features import FeatureStore
from retrieval.engine.pipeline import FeatureExtractor
from retrieval.engine.preprocess import sketch_image_to_map
from retrieval.engine.weights import repo_root
from retrieval.lab.data import SketchPhotoDataset, read_rgb
from retrieval.lab.featurize import path_id
from retrieval.lab.splits import _rng

DEFAULT_CACHE_DIR = repo_root() / "var" / "cache" / "features"


def _category_orders(
    dataset: SketchPhotoDataset, seed: int
) -> dict[str, tuple[list[int], list[int]]]:
    """Per category: (photo indices, sketch indices) in caching order."""
    sketched = {(s.category, s.photo_stem) for s in dataset.sketches}
    out: dict[str, tuple[list[int], list[int]]] = {}
    for cat in dataset.categories:
        photos = [i for i, p in enumerate(dataset.photos) if p.category == cat]
        sketches = [i for i, s in enumerate(dataset.sketches) if s.category == cat]
        rng = _rng(seed, "cache-order", cat)
        photos = [photos[j] for j in rng.permutation(len(photos))]
        # Photos with sketches first, so that early rounds hold instance pairs.
        photos.sort(key=lambda i: (cat, dataset.photos[i].path.stem) not in sketched)
        sketches = [sketches[j] for j in rng.permutation(len(sketches))]
        out[cat] = (photos, sketches)
    return out


def balanced_order(dataset: SketchPhotoDataset, *, seed: int = 0) -> list[tuple[str, int]]:
    """[("photo"|"sketch", index)] round-robin over categories; sketched photos first."""
    per_cat: dict[str, list[tuple[str, int]]] = {}
    for cat, (photos, sketches) in _category_orders(dataset, seed).items():
        items: list[tuple[str, int]] = []
        for k in range(max(len(photos), len(sketches))):
            if k < len(photos):
                items.append(("photo", photos[k]))
            if k < len(sketches):
                items.append(("sketch", sketches[k]))
        per_cat[cat] = items
    order: list[tuple[str, int]] = []
    depth = max((len(v) for v in per_cat.values()), default=0)
    for k in range(depth):
        order += [per_cat[c][k] for c in dataset.categories if k < len(per_cat[c])]
    return order


def balanced_subset(
    dataset: SketchPhotoDataset, per_category: int | None, *, seed: int = 0
) -> SketchPhotoDataset:
    """The first ``per_category`` photos and sketches of each category in caching order.

    This is the subset a partly filled cache holds after ``per_category`` rounds; ``None``
    keeps everything.
    """
    if per_category is None:
        return dataset
    keep_p: set[int] = set()
    keep_s: set[int] = set()
    for photos, sketches in _category_orders(dataset, seed).values():
        keep_p.update(photos[:per_category])
        keep_s.update(sketches[:per_category])
    return SketchPhotoDataset(
        root=dataset.root,
        photos=[p for i, p in enumerate(dataset.photos) if i in keep_p],
        sketches=[s for i, s in enumerate(dataset.sketches) if i in keep_s],
        categories=list(dataset.categories),
    )


def cache_root(extractor: FeatureExtractor, cache_dir: Path) -> Path:
    return Path(cache_dir) / extractor.version()


def warm_cache(
    dataset: SketchPhotoDataset,
    extractor: FeatureExtractor,
    cache_dir: Path,
    *,
    seed: int = 0,
    chunk: int = 8,
    limit: int | None = None,
    progress: bool = True,
) -> int:
    """Compute missing trunk maps in :func:`balanced_order`; returns how many were computed."""
    root = cache_root(extractor, cache_dir)
    stores = {"photo": FeatureStore(root / "photo"), "sketch": FeatureStore(root / "sketch")}
    have = {kind: set(store.ids().tolist()) for kind, store in stores.items()}
    items = {"photo": dataset.photos, "sketch": dataset.sketches}
    todo = [
        (kind, i)
        for kind, i in balanced_order(dataset, seed=seed)
        if path_id(items[kind][i].relpath) not in have[kind]
    ]
    if limit is not None:
        todo = todo[:limit]
    bar = tqdm(total=len(todo), desc="trunk-map cache", disable=not progress, mininterval=10)
    for start in range(0, len(todo), chunk):
        part = todo[start : start + chunk]
        for kind in ("photo", "sketch"):
            idx = [i for k, i in part if k == kind]
            if not idx:
                continue
            if kind == "photo":
                maps = extractor.edge_maps([read_rgb(dataset.photos[i].path) for i in idx])
            else:
                maps = [sketch_image_to_map(read_rgb(dataset.sketches[i].path)) for i in idx]
            ids = [path_id(items[kind][i].relpath) for i in idx]
            stores[kind].put(ids, extractor.features(maps))
        bar.update(len(part))
    bar.close()
    return len(todo)
