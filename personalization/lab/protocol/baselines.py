"""Cheap relevance-feedback baselines that fine-tuning must beat, in the general vector space.

Both carry a user's marks over to *new* queries (the evaluation queries are sketches the
user never gave feedback on), with no training:

- **Rocchio** (Rocchio 1971; SMART weights alpha = 1, beta = 0.75, gamma = 0.15): move the
  query towards the centroid of the photos the user marked and away from the centroid of the
  photos shown but not marked. The weights are normalised to sum to one, so the moved query
  stays on the scale of the gallery vectors (Euclidean ranking, not cosine).
- **1-NN re-ranking**: a photo's score is the mean of its distance to the query and its
  distance to the nearest marked photo, so photos that look like something the user marked
  come first among those that look like the sketch.
"""

from __future__ import annotations

import numpy as np

from retrieval.engine.distances import euclidean_distances

ROCCHIO_ALPHA = 1.0
ROCCHIO_BETA = 0.75
ROCCHIO_GAMMA = 0.15


def rocchio_queries(
    queries: np.ndarray,
    marked: np.ndarray,
    unmarked: np.ndarray | None = None,
    *,
    alpha: float = ROCCHIO_ALPHA,
    beta: float = ROCCHIO_BETA,
    gamma: float = ROCCHIO_GAMMA,
) -> np.ndarray:
    """(Q, D) moved queries: (alpha q + beta mean(marked) - gamma mean(unmarked)) / total.

    ``marked`` / ``unmarked`` are (M, D) vectors; an empty set drops its term (and weight).
    """
    q = np.asarray(queries, np.float64)
    out = alpha * q
    total = alpha
    if marked is not None and len(marked):
        out = out + beta * np.asarray(marked, np.float64).mean(axis=0)
        total += beta
    if unmarked is not None and len(unmarked):
        out = out - gamma * np.asarray(unmarked, np.float64).mean(axis=0)
        total -= gamma
    return out / total


def nn_rerank_distances(queries: np.ndarray, gallery: np.ndarray, marked: np.ndarray) -> np.ndarray:
    """(Q, N) 0.5 * d(query, photo) + 0.5 * min over marked m of d(m, photo)."""
    d_query = euclidean_distances(queries, gallery)
    if marked is None or not len(marked):
        return d_query
    d_marked = euclidean_distances(marked, gallery).min(axis=0)
    return 0.5 * d_query + 0.5 * d_marked[None, :]
