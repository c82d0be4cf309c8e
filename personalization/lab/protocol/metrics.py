"""Rankings and the figures of section V.C over them: category-level and fine-grained.

Built on :mod:`retrieval.lab.metrics` (rankings from a distance matrix, with an optional
excluded gallery item per query, so a photo used as its own query does not count as its own
hit; AP over the whole ranked gallery, P@K, interpolated P-R). What is added here:

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

from retrieval.lab.metrics import (
    average_precision,
    interpolated_pr_curve,
    precision_at_k,
)

DEFAULT_KS = (10, 100)


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
