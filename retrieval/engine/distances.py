"""Euclidean distances between two sets of vectors: the one place they are computed.

Search ranks by them (eqs. 6-8), the personal head's eq. 16 is one, closeness and the
memory term compare query and photo vectors with them, and the lab ranks with them too.
"""

from __future__ import annotations

import numpy as np


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) squared Euclidean distances in float64, never below 0 (rounding).

    Ranking by d^2 ranks as by d, and skips the square root.
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    d2 = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d2, 0.0)


def euclidean_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) Euclidean distances in float64."""
    return np.sqrt(squared_distances(a, b))
