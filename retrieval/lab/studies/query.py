"""How to ask a query, measured on the model-selection split only.

    python -m retrieval.lab study query --data DIR --checkpoint SEL.pt
        [--json PATH]

``SEL.pt`` is a head trained with ``python -m retrieval.lab train --val-categories 20`` (its
metadata names the validation categories, which it never trained on). Queries are the
*training* sketches of those categories (never a test sketch; no held-out category
anywhere), the gallery their photos. Printed: mAP and P@10 of the plain ranking, of
mirror-averaged query (and photo) vectors, and of average query expansion over ``k`` nearest
photos with query weights, plain and on mirror-averaged queries; and similarity-weighted
expansion (alpha-QE). The product's choice (``pipeline.EngineConfig.mirror_queries``,
``query_expansion.DEFAULT_NEIGHBOURS``) was read off this table (``docs/results.md``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from retrieval.engine.heads import read_head
from retrieval.engine.model import head_vectors
from retrieval.engine.pipeline import FeatureExtractor, mirror_mean
from retrieval.engine.query_expansion import expand, nearest
from retrieval.engine.weights import default_model_dir
from retrieval.lab.cache import DEFAULT_CACHE_DIR
from retrieval.lab.data import SketchPhotoDataset
from retrieval.lab.evaluation import rank_summary
from retrieval.lab.splits import make_splits
from retrieval.lab.training.augmented_views import load_views, view_stores, warm_views


def weighted_expansion(
    queries: np.ndarray, gallery: np.ndarray, k: int, *, alpha: float, query_weight: float
) -> np.ndarray:
    """Expansion with neighbour weights sim^alpha (alpha 0: the plain mean) and a query weight."""
    top = nearest(queries, gallery, k)
    sims = np.take_along_axis(queries @ gallery.T, top, axis=1).clip(0) ** alpha
    return expand(query_weight * queries, sims[:, :, None] * gallery[top])


def validation_items(data: Path, val: list[str], *, holdout: int, seed: int) -> SketchPhotoDataset:
    """The training sketches (never the test sketches) and the photos of the validation
    categories, under the split (``holdout`` categories, ``seed``) the head was trained on."""
    full = SketchPhotoDataset.scan(data)
    splits = make_splits(full, holdout=holdout, seed=seed, full=full)
    training = {full.sketches[i].relpath for i in splits.train_sketches}
    wanted = set(val)
    return SketchPhotoDataset(
        root=full.root,
        photos=[p for p in full.photos if p.category in wanted],
        sketches=[s for s in full.sketches if s.category in wanted and s.relpath in training],
        categories=list(full.categories),
    )


def study(data: Path, checkpoint: Path, cache_dir: Path = DEFAULT_CACHE_DIR) -> dict[str, dict]:
    head, metadata = read_head(checkpoint)
    trained_on = metadata.get("trained_on") or {}
    val = trained_on.get("val_categories") or []
    if not val:
        raise ValueError(f"{checkpoint} was not trained with --val-categories")
    items = validation_items(
        data,
        val,
        holdout=len(trained_on.get("holdout_categories") or []),
        seed=int(trained_on.get("seed", 0)),
    )
    extractor = FeatureExtractor(
        model_dir=default_model_dir(), trunk=metadata["trunk"], batch_size=32
    )
    views = ("orig", "flip")
    warm_views(items, extractor, cache_dir, photo_views=views, sketch_views=views)
    stores = view_stores(extractor, cache_dir)
    sketch_maps = load_views(stores["sketch"], [s.relpath for s in items.sketches], views)
    photo_maps = load_views(stores["photo"], [p.relpath for p in items.photos], views)
    s_lab = np.array([s.category for s in items.sketches], dtype=object)
    p_lab = np.array([p.category for p in items.photos], dtype=object)
    q, q_flip = (head_vectors(head, m) for m in sketch_maps)
    g, g_flip = (head_vectors(head, m) for m in photo_maps)
    q_mirror = mirror_mean(q, q_flip)
    rows: dict[str, dict] = {}

    def measure(name: str, queries: np.ndarray, gallery: np.ndarray = g) -> None:
        summary = rank_summary(queries, s_lab, gallery, p_lab)
        rows[name] = {"map": round(summary["map"], 4), "p_at_10": round(summary["p_at_10"], 4)}
        print(name, rows[name], file=sys.stderr, flush=True)

    measure("plain", q)
    measure("mirror-averaged queries", q_mirror)
    measure("mirror-averaged queries and photos", q_mirror, mirror_mean(g, g_flip))
    for k in (1, 3, 5, 8, 10):
        for weight in (0.5, 1.0, 2.0):
            measure(
                f"expansion k={k} query weight {weight}",
                weighted_expansion(q, g, k, alpha=0, query_weight=weight),
            )
            measure(
                f"mirror + expansion k={k} query weight {weight}",
                weighted_expansion(q_mirror, g, k, alpha=0, query_weight=weight),
            )
        measure(f"alpha-QE k={k} alpha 3", weighted_expansion(q, g, k, alpha=3, query_weight=1.0))
    return rows
