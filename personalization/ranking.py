"""The seam between general search and a user's personalization (eqs. 16-19 + memory).

retrieval's search service calls :func:`rank_for_user` with the general candidates (the
general index's nearest photos, at least 200). What the user gets:

1. **memory** (at once, no training): when photos the user marked are among the
   candidates, each candidate's distance to the nearest of them is mixed in,
   ``0.5 * d + 0.5 * d_memory`` (:func:`scoring.with_memory`);
2. **personal head** (once trained, w > 0): the nearest candidates are re-scored with the
   head from their cached trunk maps, ``d = (1 - w) * d_general + w * d_personal`` with the
   two distances on one scale (the calibration stored with the head, :func:`scoring.mix`).

``PSBIR_PERSONAL_MEMORY = 0`` and ``PSBIR_PERSONAL_CALIBRATED = 0`` give the paper's pure,
raw eq. 18. docs/personalization.md has the measurements behind each part; why re-score
candidates rather than keep a personal index: ``python -m personalization.engine.benchmark``.
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
    distance: float  # what the ranking is sorted by: eq. 18 (calibrated), memory mixed in
    general_distance: float
    personal_distance: float | None
    memory_distance: float | None = None  # to the nearest photo the user marked


@dataclass(frozen=True)
class Ranking:
    images: list[RankedImage]
    personal_weight: float
    personal_head_version: int | None
    memory_marks: int = 0  # the user's marked photos among the candidates


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
    memory, marks = _memory(user, candidate_ids)
    head_row = selectors.active_head(user=user) if w > 0 and len(candidate_ids) else None
    personal = None
    if head_row is not None:
        # Only the nearest candidates are re-scored (docs/personalization.md).
        depth = max(int(top_k), knob("PSBIR_PERSONAL_RESCORE_DEPTH"))
        keep = scoring.top_k_order(scoring.with_memory(general, memory), depth)
        candidate_ids, general = candidate_ids[keep], general[keep]
        memory = memory[keep] if memory is not None else None
        personal = _personal_distances(user, head_row, query_features, candidate_ids)
    if personal is None:
        score = scoring.with_memory(general, memory)
        w, version = 0.0, None
    else:
        mixed = scoring.mix(general, personal, w, _calibration(head_row))
        score = scoring.with_memory(mixed, memory)
        version = head_row.version
    order = scoring.top_k_order(score, top_k)
    images = [
        RankedImage(
            image_id=int(candidate_ids[i]),
            distance=float(score[i]),
            general_distance=float(general[i]),
            personal_distance=None if personal is None else float(personal[i]),
            memory_distance=None if memory is None else float(memory[i]),
        )
        for i in order
    ]
    return Ranking(
        images=images, personal_weight=w, personal_head_version=version, memory_marks=marks
    )


def _calibration(head_row: Any) -> scoring.Calibration | None:
    """The head's stored distance scales, unless the paper's raw eq. 18 is configured."""
    if not knob("PSBIR_PERSONAL_CALIBRATED"):
        return None
    return scoring.Calibration.from_dict((head_row.details or {}).get("calibration"))


def _memory(user: Any, candidate_ids: np.ndarray) -> tuple[np.ndarray | None, int]:
    """Each candidate's general distance to the nearest photo the user marked, counting only
    marks among these candidates (marks on other subjects do not pull this search around);
    (None, 0) when there is none or the memory is switched off."""
    if not knob("PSBIR_PERSONAL_MEMORY") or not len(candidate_ids):
        return None, 0
    limit = knob("PSBIR_PERSONAL_MEMORY_MARKS")
    marked = set(selectors.marked_image_ids(user=user, limit=limit))
    in_view = [int(i) for i in candidate_ids.tolist() if int(i) in marked]
    if not in_view:
        return None, 0
    from retrieval.selectors import stored_vectors

    vectors = stored_vectors(tenant_id=user.tenant_id, image_ids=candidate_ids.tolist())
    marks = [vectors[i] for i in in_view if i in vectors]
    if not marks:
        return None, 0
    dim = len(marks[0])
    rows = np.stack([vectors.get(int(i), np.full(dim, np.nan)) for i in candidate_ids.tolist()])
    memory = scoring.memory_distances(rows, np.stack(marks))
    # A candidate whose vector is not stored (being re-indexed) gets the farthest memory.
    finite = np.isfinite(memory)
    memory[~finite] = memory[finite].max() if finite.any() else 0.0
    return memory, len(marks)


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
