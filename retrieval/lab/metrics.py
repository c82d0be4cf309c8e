"""Rankings and retrieval metrics over ranked galleries (section V.C): AP, mAP, P@K,
precision-recall; what the evaluation and the protocol alike rank and score with.

A ranking is given as a boolean relevance vector in ranked order (``True`` = relevant).
AP is computed over the *whole* ranked gallery: AP = (1/R) sum_k P@k * rel_k, where R is the
number of relevant items in the gallery (pass ``n_relevant`` if the ranking is truncated, so
relevant items that were never retrieved count as misses, as the paper says).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

RECALL_LEVELS = np.linspace(0.0, 1.0, 11)


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


def average_precision(relevant: np.ndarray, n_relevant: int | None = None) -> float:
    """AP of one ranked list; NaN when nothing in the gallery is relevant."""
    rel = np.asarray(relevant, dtype=bool)
    total = int(rel.sum()) if n_relevant is None else int(n_relevant)
    if total < rel.sum():
        raise ValueError("n_relevant is smaller than the relevant items in the ranking")
    if total == 0:
        return float("nan")
    hits = np.cumsum(rel)
    ranks = np.arange(1, len(rel) + 1)
    return float((hits[rel] / ranks[rel]).sum() / total)


def mean_average_precision(relevance: np.ndarray | list[np.ndarray]) -> float:
    """Mean AP over queries (rows), skipping queries with no relevant item."""
    aps = [average_precision(r) for r in relevance]
    valid = [a for a in aps if not np.isnan(a)]
    return float(np.mean(valid)) if valid else float("nan")


def precision_at_k(relevant: np.ndarray, k: int) -> float:
    """Share of relevant items among the first ``k`` (a shorter list counts as misses)."""
    if k < 1:
        raise ValueError("k must be at least 1")
    rel = np.asarray(relevant, dtype=bool)[:k]
    return float(rel.sum() / k)


def precision_recall(relevant: np.ndarray, n_relevant: int | None = None):
    """Precision and recall after each rank: two float arrays as long as the ranking."""
    rel = np.asarray(relevant, dtype=bool)
    total = int(rel.sum()) if n_relevant is None else int(n_relevant)
    hits = np.cumsum(rel)
    ranks = np.arange(1, len(rel) + 1)
    recall = hits / total if total else np.zeros(len(rel))
    return hits / ranks, recall


def interpolated_pr_curve(
    relevance: np.ndarray | list[np.ndarray], levels: np.ndarray = RECALL_LEVELS
) -> tuple[np.ndarray, np.ndarray]:
    """Mean interpolated precision (max precision at recall >= r) at ``levels``."""
    curves = []
    for rel in relevance:
        rel = np.asarray(rel, dtype=bool)
        if not rel.any():
            continue
        precision, recall = precision_recall(rel)
        # Interpolation: at each level, the best precision reached at that recall or beyond.
        best = np.maximum.accumulate(precision[::-1])[::-1]
        idx = np.searchsorted(recall, levels, side="left")
        curves.append(np.where(idx < len(best), best[np.minimum(idx, len(best) - 1)], 0.0))
    if not curves:
        return levels.copy(), np.zeros_like(levels)
    return levels.copy(), np.mean(curves, axis=0)


def relevance_matrix(
    ranked_ids: np.ndarray, query_labels: np.ndarray, gallery_labels: dict[int, str] | np.ndarray
) -> np.ndarray:
    """(Q, N) bool: ``gallery_labels[ranked_ids[q, i]] == query_labels[q]``.

    ``gallery_labels`` is a mapping id -> label or an array indexed by id; id -1 (padding)
    is never relevant.
    """
    ranked = np.asarray(ranked_ids)
    if isinstance(gallery_labels, dict):
        lookup = np.vectorize(lambda i: gallery_labels.get(int(i)), otypes=[object])
        labels = lookup(ranked)
    else:
        labels = np.asarray(gallery_labels, dtype=object)[np.where(ranked >= 0, ranked, 0)]
    query = np.asarray(query_labels, dtype=object)[:, None]
    return (labels == query) & (ranked >= 0)


def summarize(relevance: np.ndarray | list[np.ndarray], ks: tuple[int, ...] = (10, 20)) -> dict:
    """{"map", "p_at_<k>"..., "queries"} over full-gallery rankings."""
    rows = [np.asarray(r, dtype=bool) for r in relevance]
    out: dict[str, float | int] = {"map": mean_average_precision(rows), "queries": len(rows)}
    for k in ks:
        out[f"p_at_{k}"] = float(np.mean([precision_at_k(r, k) for r in rows])) if rows else 0.0
    return out


def plot_pr_curves(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, title: str = ""):
    """Write a PNG of precision-recall curves (``name -> (recall, precision)``)."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    for name, (recall, precision) in curves.items():
        ax.plot(recall, precision, marker="o", markersize=3, label=name)
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title=title)
    ax.grid(alpha=0.3)
    if curves:
        ax.legend(loc="upper right")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
