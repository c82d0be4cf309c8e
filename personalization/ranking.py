"""The seam between general search and a user's personalized head (eqs. 16-19).

retrieval's search service calls :func:`rank_for_user` with the general candidates; this
module decides whether and how the user's personalized head re-scores them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RankedImage:
    image_id: int
    distance: float  # what the ranking is sorted by: (1 - w) * general + w * personal
    general_distance: float
    personal_distance: float | None


@dataclass(frozen=True)
class Ranking:
    images: list[RankedImage]
    personal_weight: float
    personal_head_version: int | None


def rank_for_user(
    *,
    user: object,
    query_features: np.ndarray,
    candidate_ids: np.ndarray,
    general_distances: np.ndarray,
    top_k: int,
    personal_weight: float | None = None,
) -> Ranking:
    """Order the general candidates for ``user``.

    ``query_features`` is the sketch's conv5 map (512x8x8), ``candidate_ids`` and
    ``general_distances`` the general index's answer in ascending distance. Until the user
    has a personalized head this is the general order, cut to ``top_k``.
    """
    order = np.argsort(general_distances, kind="stable")[:top_k]
    images = [
        RankedImage(
            image_id=int(candidate_ids[i]),
            distance=float(general_distances[i]),
            general_distance=float(general_distances[i]),
            personal_distance=None,
        )
        for i in order
    ]
    return Ranking(images=images, personal_weight=0.0, personal_head_version=None)
