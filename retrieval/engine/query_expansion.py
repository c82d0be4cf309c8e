"""Average query expansion: a sketch query re-asked as the mean of itself and its nearest photos.

A sketch's vector sits in the sketch side of the shared space; photos of one category lie
much closer to each other than to any sketch of it. So the served ranking is two-step:
rank the gallery with the sketch's vector, take its ``k`` nearest photos, and rank the
gallery again, by Euclidean distance, with the L2-normalised mean of the query and those
``k`` photo vectors (average query expansion, Chum et al. 2007, with equal weights).

Chosen on the model-selection split only (60 training categories; queries: the training
sketches of 20 further training categories, against those categories' photos; never a test
sketch or a held-out category; ``docs/results.md``): mAP 0.414 plain, 0.527-0.533 for ``k``
from 3 to 10 and query weights 0.5-1, 0.544 with ``k = 3`` on mirror-averaged queries (the
best of the served combination; ``k = 5``: 0.540). Similarity-weighted means (alpha-QE) were
worse. A small ``k`` also keeps a photo whose category has few photos in the library from
being averaged away among other categories.
"""

from __future__ import annotations

import numpy as np

from .distances import squared_distances

DEFAULT_NEIGHBOURS = 3  # photos averaged into the query (0: no expansion)


def expand(queries: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """(Q, D) queries and (Q, k, D) neighbour vectors -> (Q, D) unit vectors of their mean.

    ``k`` may be 0 (the query itself, normalised).
    """
    q = np.asarray(queries, np.float32)
    n = np.asarray(neighbours, np.float32)
    if q.ndim != 2 or n.ndim != 3 or n.shape[0] != q.shape[0] or n.shape[2] != q.shape[1]:
        raise ValueError(
            f"queries (Q, D) and neighbours (Q, k, D) expected, got {q.shape} and {n.shape}"
        )
    total = q + n.sum(axis=1)
    return (total / np.maximum(np.linalg.norm(total, axis=1, keepdims=True), 1e-12)).astype(
        np.float32
    )


def nearest(queries: np.ndarray, gallery: np.ndarray, k: int) -> np.ndarray:
    """(Q, k) indices of each query's ``k`` nearest gallery vectors (Euclidean, exact)."""
    k = min(int(k), len(gallery))
    if k <= 0:
        return np.zeros((len(queries), 0), np.int64)
    return np.argsort(squared_distances(queries, gallery), axis=1, kind="stable")[:, :k]


def expand_against(
    queries: np.ndarray, gallery: np.ndarray, k: int = DEFAULT_NEIGHBOURS
) -> np.ndarray:
    """Expanded queries against an in-memory gallery (what the served index search does)."""
    g = np.asarray(gallery, np.float32)
    top = nearest(queries, g, k)
    return expand(queries, g[top])
