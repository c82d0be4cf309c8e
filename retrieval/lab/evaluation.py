"""Category-level retrieval figures of a general model on any folder dataset: the one
evaluation path (``python -m retrieval.lab evaluate``; the protocol's general stage ranks and
asks queries with the same functions).

    python -m retrieval.lab evaluate --data DIR [--checkpoint PATH] [--queries all|test]
        [--json PATH] [--holdout-categories N --split seen|unseen] [--per-category K]

Every query sketch of DIR ranks photos of DIR by Euclidean distance between 512-d vectors
(exact search, as the product's index does by default), the way search serves it
(:func:`asked_queries`): the query vector averaged with its mirror image's, then expanded
with its ``--query-expansion K`` nearest photos (:mod:`retrieval.engine.query_expansion`;
0 ranks with the sketch's own vector); a photo is relevant when it has the sketch's
category. Vectors come from the product's own path (:class:`retrieval.engine.pipeline.Engine`):
the trunk the head's checkpoint names, the same sketch and photo preprocessing (for edge
trunks, the edge method the head was trained with, from its metadata), trunk maps rounded to
float16 (as the product stores them) and the head. Trunk maps are cached under
``--cache-dir`` and shared with training.

Which queries and which gallery:
- no holdout: ``--queries all`` every sketch, ``--queries test`` the seeded 7:3 test
  sketches of every category; the gallery is every photo;
- ``--holdout-categories N --split seen``: the sketches (``test``: the test sketches) of the
  categories *not* held out, against the whole gallery (every photo, held-out ones too);
- ``--split unseen``: the sketches of the N held-out categories against their photos only
  (chance = 1/N).
``--per-category K`` evaluates the first K photos and K sketches of every category in the
cache's seeded order (a subset for a CPU that cannot embed everything).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.engine.distances import squared_distances
from retrieval.engine.heads import DEFAULT_HEAD_PATH, head_metadata
from retrieval.engine.pipeline import Engine, EngineConfig, mirror_mean
from retrieval.engine.query_expansion import DEFAULT_NEIGHBOURS, expand_against
from retrieval.engine.weights import default_model_dir
from retrieval.lab.cache import DEFAULT_CACHE_DIR, balanced_subset
from retrieval.lab.data import SketchPhotoDataset
from retrieval.lab.featurize import dataset_features, mirrored_sketch_features
from retrieval.lab.hog_baseline import hog_descriptors, photo_edge_maps, sketch_maps
from retrieval.lab.metrics import rank, relevance_matrix, summarize
from retrieval.lab.splits import holdout_categories, test_sketch_paths

DEFAULT_EDGE_METHOD = "hed"  # the product's default when a head does not say


def rank_summary(
    query_vectors: np.ndarray,
    query_labels: np.ndarray,
    gallery_vectors: np.ndarray,
    gallery_labels: np.ndarray,
) -> dict[str, float | int]:
    """mAP, P@10, P@20 and chance of each query against the whole gallery (Euclidean)."""
    ranked = rank(squared_distances(query_vectors, gallery_vectors))
    relevance = relevance_matrix(ranked, np.asarray(query_labels), np.asarray(gallery_labels))
    out = summarize(relevance)
    n_queries, n_gallery = len(query_vectors), len(gallery_vectors)
    out["chance"] = float(relevance.sum(1).mean() / max(n_gallery, 1)) if n_queries else 0.0
    return out


def _check_expansion(query_expansion: int) -> None:
    if query_expansion < 0:
        raise ValueError(f"query_expansion must be 0 or more photos, got {query_expansion}")


def asked_queries(
    vectors: np.ndarray,
    gallery: np.ndarray,
    *,
    mirrored: np.ndarray | None = None,
    query_expansion: int = DEFAULT_NEIGHBOURS,
) -> np.ndarray:
    """Query vectors as search asks them: averaged with their mirror image's (``mirrored``,
    when given), then expanded with their ``query_expansion`` nearest ``gallery`` vectors
    (0: as they are; ``vectors`` itself is returned when nothing applies)."""
    _check_expansion(query_expansion)
    if mirrored is not None:
        vectors = mirror_mean(vectors, mirrored)
    if query_expansion:
        vectors = expand_against(vectors, gallery, query_expansion)
    return vectors


def select(
    dataset: SketchPhotoDataset,
    *,
    queries: str,
    holdout: int,
    split: str,
    seed: int,
    full: SketchPhotoDataset | None = None,
) -> tuple[list[int], list[int]]:
    """(query sketch indices, gallery photo indices) for the options (see module doc).

    ``full`` is the whole folder when ``dataset`` is a subset: splits are drawn on it.
    """
    full = full or dataset
    if queries not in ("all", "test"):
        raise ValueError("queries must be 'all' or 'test'")
    sketch_idx = list(range(len(dataset.sketches)))
    if queries == "test":
        test_paths = test_sketch_paths(full, seed=seed)
        sketch_idx = [i for i in sketch_idx if dataset.sketches[i].relpath in test_paths]
    photo_idx = list(range(len(dataset.photos)))
    if holdout:
        held = set(holdout_categories(full.categories, holdout, seed=seed))
        if split == "seen":
            sketch_idx = [i for i in sketch_idx if dataset.sketches[i].category not in held]
        elif split == "unseen":
            sketch_idx = [i for i in sketch_idx if dataset.sketches[i].category in held]
            photo_idx = [i for i in photo_idx if dataset.photos[i].category in held]
        else:
            raise ValueError("split must be 'seen' or 'unseen'")
    return sketch_idx, photo_idx


def hog_evaluate(
    *,
    data: Path,
    queries: str = "all",
    holdout: int = 0,
    split: str = "seen",
    seed: int = 0,
) -> dict[str, Any]:
    """The same figures for the HOG reference: HOG of Canny photo edge maps vs sketch maps."""
    started = time.monotonic()
    full = SketchPhotoDataset.scan(data)
    sketch_idx, photo_idx = select(full, queries=queries, holdout=holdout, split=split, seed=seed)
    photos = [full.photos[i] for i in photo_idx]
    sketches = [full.sketches[i] for i in sketch_idx]
    summary = rank_summary(
        hog_descriptors(sketch_maps(full, sketch_idx)),
        np.array([s.category for s in sketches], dtype=object),
        hog_descriptors(photo_edge_maps(full, photo_idx)),
        np.array([p.category for p in photos], dtype=object),
    )
    return {
        **summary,
        "photos": len(photos),
        "categories": len({s.category for s in sketches}),
        "seconds": round(time.monotonic() - started, 2),
        "model": {"baseline": "hog", "edge_method": "canny"},
        "data": str(data),
        "query_set": queries,
        "split": split if holdout else None,
        "holdout_categories": holdout,
        "seed": seed,
    }


def evaluate(
    *,
    data: Path,
    checkpoint: Path = DEFAULT_HEAD_PATH,
    queries: str = "all",
    holdout: int = 0,
    split: str = "seen",
    seed: int = 0,
    per_category: int | None = None,
    edge_method: str | None = None,
    model_dir: Path | None = None,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    device: str = "auto",
    progress: bool = True,
    engine: Engine | None = None,
    query_expansion: int = DEFAULT_NEIGHBOURS,
    mirror_queries: bool | None = None,
) -> dict[str, Any]:
    """The JSON summary (``map``, ``p_at_10``, ``p_at_20``, ``queries``, ``photos``, ...).

    Ranked as the product serves: query vectors averaged with their mirror image's
    (``mirror_queries``; None: as the engine is configured) and expanded with their
    ``query_expansion`` nearest photos (0: plain nearest-neighbour ranking).
    """
    started = time.monotonic()
    _check_expansion(query_expansion)
    checkpoint = Path(checkpoint)
    metadata = head_metadata(checkpoint)
    if metadata["trunk"] == "vgg16_hed":
        edge_method = edge_method or metadata.get("edge_method") or DEFAULT_EDGE_METHOD
    if engine is None:
        engine = Engine(
            EngineConfig(
                model_dir=Path(model_dir or default_model_dir()),
                head_path=checkpoint,
                device=device,
                edge_method=edge_method,
            )
        )
    full = SketchPhotoDataset.scan(data)
    dataset = balanced_subset(full, per_category, seed=seed)
    sketch_idx, photo_idx = select(
        dataset, queries=queries, holdout=holdout, split=split, seed=seed, full=full
    )
    if not sketch_idx or not photo_idx:
        raise ValueError("no query sketch or no gallery photo for these options")
    part = SketchPhotoDataset(
        root=dataset.root,
        photos=[dataset.photos[i] for i in photo_idx],
        sketches=[dataset.sketches[i] for i in sketch_idx],
        categories=list(dataset.categories),
    )
    photo_feats, sketch_feats = dataset_features(
        part, engine.extractor, cache_dir, progress=progress
    )
    # The product stores float16 trunk maps and embeds from them; so do we.
    photo_vecs = engine.head_vectors(photo_feats.astype(np.float16))
    sketch_vecs = engine.head_vectors(sketch_feats.astype(np.float16))
    if mirror_queries is None:
        mirror_queries = engine.config.mirror_queries
    mirrored = None
    if mirror_queries:
        mirrored_maps = mirrored_sketch_features(
            part, engine.extractor, cache_dir, progress=progress
        )
        mirrored = engine.head_vectors(mirrored_maps.astype(np.float16))
    sketch_vecs = asked_queries(
        sketch_vecs, photo_vecs, mirrored=mirrored, query_expansion=query_expansion
    )
    summary = rank_summary(
        sketch_vecs,
        np.array([s.category for s in part.sketches], dtype=object),
        photo_vecs,
        np.array([p.category for p in part.photos], dtype=object),
    )
    categories = sorted({s.category for s in part.sketches})
    return {
        **summary,
        "photos": len(part.photos),
        "categories": len(categories),
        "seconds": round(time.monotonic() - started, 2),
        "model": {
            "checkpoint": str(checkpoint),
            "model_version": engine.model_version,
            "trunk": engine.trunk,
            "edge_method": engine.edge_method,
            "recipe": metadata.get("recipe"),
            "trained_on": metadata.get("trained_on"),
            "mirror_queries": bool(mirror_queries),
            "query_expansion": int(query_expansion),
        },
        "data": str(data),
        "query_set": queries,
        "split": split if holdout else None,
        "holdout_categories": holdout,
        "per_category": per_category,
        "seed": seed,
    }
