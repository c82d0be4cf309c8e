"""Rankings and the figures of section V.C over them: category-level and fine-grained.

Built on :mod:`retrieval.engine.metrics` (AP over the whole ranked gallery, P@K,
interpolated P-R). What is added here:

- rankings from a distance matrix, with an optional excluded gallery item per query (a photo
  used as its own query must not count as its own hit);
- *fine-grained* relevance (Table 3): a photo is relevant when it has the user's parent
  category **and** sub-category;
- the paper's category means: "the AP of a single category is the average of the precision
  ... after entering the sketch for that category. The MAP ... is the average precision
  for each category" (mean over categories of the per-category mean AP), reported next to
  the usual mean over queries (they agree when every category has as many queries).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from retrieval.engine.metrics import (
    average_precision,
    interpolated_pr_curve,
    precision_at_k,
)

DEFAULT_KS = (10, 100)


def squared_distances(queries: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """(Q, N) squared Euclidean distances in float64 (ranking by d^2 ranks as by d)."""
    q = np.asarray(queries, np.float64)
    g = np.asarray(gallery, np.float64)
    d2 = (q**2).sum(1)[:, None] + (g**2).sum(1)[None, :] - 2.0 * q @ g.T
    return np.maximum(d2, 0.0)


def distances(queries: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """(Q, N) Euclidean distances (what eq. 18 mixes)."""
    return np.sqrt(squared_distances(queries, gallery))


def rank(dist: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
    """Gallery positions in ascending distance, per query; ties keep gallery order.

    ``exclude[q]`` (a gallery position, or -1) is removed from query q's ranking; either no
    query or every query excludes one item, so the rows keep one length.
    """
    dist = np.array(dist, np.float64, copy=True)
    if exclude is None or (np.asarray(exclude) < 0).all():
        return np.argsort(dist, axis=1, kind="stable")
    exclude = np.asarray(exclude, np.int64)
    if (exclude < 0).any():
        raise ValueError("either every query excludes a gallery item or none does")
    dist[np.arange(len(dist)), exclude] = np.inf
    return np.argsort(dist, axis=1, kind="stable")[:, :-1]


def relevance(ranked: np.ndarray, query_labels: Sequence, gallery_labels: Sequence) -> np.ndarray:
    """(Q, N) bool: the ranked gallery item's label equals the query's."""
    gallery = np.asarray(gallery_labels, dtype=object)
    query = np.asarray(query_labels, dtype=object)[:, None]
    return gallery[np.asarray(ranked)] == query


def fine_grained_relevance(
    ranked: np.ndarray,
    parent: str,
    sub: str,
    gallery_parents: Sequence[str],
    gallery_subs: Sequence[str],
) -> np.ndarray:
    """(Q, N) bool: the ranked photo is in the user's parent *and* sub-category."""
    match = (np.asarray(gallery_parents, dtype=object) == parent) & (
        np.asarray(gallery_subs, dtype=object) == sub
    )
    return match[np.asarray(ranked)]


def query_aps(rel: np.ndarray) -> np.ndarray:
    """AP of each row over its whole ranking (NaN where nothing is relevant)."""
    return np.array([average_precision(r) for r in np.asarray(rel, bool)], np.float64)


def category_means(values: Sequence[float], categories: Sequence[str]) -> dict[str, float]:
    """{category: mean of its values}, NaNs ignored (categories with only NaN left out)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for v, c in zip(values, categories, strict=True):
        if not np.isnan(v):
            groups[str(c)].append(float(v))
    return {c: float(np.mean(vs)) for c, vs in sorted(groups.items())}


def nanmean(values) -> float:
    arr = np.asarray(list(values), np.float64)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if len(arr) else float("nan")


def summary(rel: np.ndarray, categories: Sequence[str], ks: Sequence[int] = DEFAULT_KS) -> dict:
    """mAP (over queries and the paper's over categories), P@K, per-category AP, P-R curve."""
    rel = np.asarray(rel, bool)
    aps = query_aps(rel)
    per_category = category_means(aps, categories)
    recall, precision = interpolated_pr_curve(list(rel))
    out: dict = {
        "map": nanmean(aps),
        "map_by_category": nanmean(per_category.values()),
        "queries": int(len(rel)),
        "gallery": int(rel.shape[1]) if rel.ndim == 2 else 0,
        "chance": float(rel.mean()) if rel.size else 0.0,
    }
    for k in ks:
        out[f"p_at_{k}"] = float(np.mean([precision_at_k(r, k) for r in rel])) if len(rel) else 0.0
    out["per_category_ap"] = per_category
    out["pr_curve"] = {"recall": recall.tolist(), "precision": precision.tolist()}
    return out
