"""The seam between general search and a user's personalized head (eqs. 16-19).

retrieval's search service calls :func:`rank_for_user` with the general candidates (the
general index's nearest photos, at least 200); when the user has an active head and w > 0,
the candidates are re-scored with that head from their cached conv5 maps and ranked by
``(1 - w) * d_general + w * d_personal`` on raw distances, as the paper does. Why re-score
candidates rather than keep a personal index of the whole library: docs/personalization.md
(measured by ``python -m personalization.engine.benchmark``).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from personalization import head_files, selectors
from personalization.conf import knob
from personalization.engine import scoring

logger = logging.getLogger(__name__)


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
    ``general_distances`` the general index's answer in ascending distance.
    ``personal_weight`` overrides the user's stored w for this search (None: stored w).
    Without an active head, or with w = 0, this is the general order cut to ``top_k``
    (reported with w = 0: nothing personal was mixed in).
    """
    candidate_ids = np.asarray(candidate_ids, dtype=np.int64).reshape(-1)
    general = np.asarray(general_distances, dtype=np.float64).reshape(-1)
    if len(candidate_ids) != len(general):
        raise ValueError("candidate_ids and general_distances must have the same length")
    w = (
        selectors.personal_weight_for(user=user)
        if personal_weight is None
        else scoring.check_weight(personal_weight)
    )
    head_row = selectors.active_head(user=user) if w > 0 and len(candidate_ids) else None
    personal = None
    if head_row is not None:
        # Only the nearest general candidates are re-scored (docs/personalization.md).
        depth = max(int(top_k), knob("PSBIR_PERSONAL_RESCORE_DEPTH"))
        keep = scoring.top_k_order(general, depth)
        candidate_ids, general = candidate_ids[keep], general[keep]
        personal = _personal_distances(user, head_row, query_features, candidate_ids)
    if personal is None:
        return _general_ranking(candidate_ids, general, top_k)

    mixed = scoring.mix(general, personal, w)
    order = scoring.top_k_order(mixed, top_k)
    images = [
        RankedImage(
            image_id=int(candidate_ids[i]),
            distance=float(mixed[i]),
            general_distance=float(general[i]),
            personal_distance=float(personal[i]),
        )
        for i in order
    ]
    return Ranking(images=images, personal_weight=w, personal_head_version=head_row.version)


def _general_ranking(candidate_ids: np.ndarray, general: np.ndarray, top_k: int) -> Ranking:
    order = scoring.top_k_order(general, top_k)
    images = [
        RankedImage(
            image_id=int(candidate_ids[i]),
            distance=float(general[i]),
            general_distance=float(general[i]),
            personal_distance=None,
        )
        for i in order
    ]
    return Ranking(images=images, personal_weight=0.0, personal_head_version=None)


def _personal_distances(
    user: Any, head_row: Any, query_features: np.ndarray, candidate_ids: np.ndarray
) -> np.ndarray | None:
    """Eq. 16 for every candidate, or None when the head cannot score these photos."""
    maps, found = _candidate_maps(user, head_row.model_version, candidate_ids)
    if not found.any():
        logger.info("head v%s of user %s: no candidate features", head_row.version, user.pk)
        return None
    try:
        head = head_files.load(head_row)
    except (FileNotFoundError, ValueError):
        logger.exception("head v%s of user %s cannot be loaded", head_row.version, user.pk)
        return None
    distances = np.empty(len(candidate_ids), dtype=np.float64)
    distances[found] = scoring.personal_distances(head, np.asarray(query_features), maps)
    # A candidate without cached features (being re-indexed) cannot be scored: it gets the
    # worst personal distance seen, so it is ranked by its general distance among the last.
    distances[~found] = distances[found].max()
    return distances


_stores: dict[Path, Any] = {}
_stores_lock = threading.Lock()


def _store(library: Any, version: str) -> Any:
    from retrieval import index_store

    path = index_store.feature_dir(library, version)
    with _stores_lock:
        store = _stores.get(path)
        if store is None:
            store = _stores[path] = index_store.feature_store(library, version)
    return store


def _candidate_maps(
    user: Any, version: str, candidate_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Trunk maps of the candidates cached under ``version`` (rows where ``found``)."""
    from retrieval.models import LibraryImage

    rows = (
        LibraryImage.objects.for_tenant(user.tenant_id)
        .filter(pk__in=candidate_ids.tolist(), library__model_version=version)
        .select_related("library")
        .only("id", "library__id", "library__tenant_id", "library__model_version")
    )
    library_of = {row.pk: row.library for row in rows}
    by_library: dict[int, list[int]] = defaultdict(list)
    for position, image_id in enumerate(candidate_ids.tolist()):
        if image_id in library_of:
            by_library[library_of[image_id].pk].append(position)
    found = np.zeros(len(candidate_ids), dtype=bool)
    maps: np.ndarray | None = None
    for positions in by_library.values():
        library = library_of[int(candidate_ids[positions[0]])]
        store = _store(library, version)
        ids = candidate_ids[positions]
        present = np.isin(ids, store.ids())
        keep = [p for p, ok in zip(positions, present, strict=True) if ok]
        if keep:
            got = store.get(candidate_ids[keep])
            if maps is None:  # the general model's map shape, as the store holds it
                maps = np.zeros((len(candidate_ids), *got.shape[1:]), dtype=np.float32)
            maps[keep] = got
            found[keep] = True
    if maps is None:
        return np.zeros((0, 512, 8, 8), dtype=np.float32), found
    return maps[found], found
