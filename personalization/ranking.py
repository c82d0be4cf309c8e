"""The seam between general search and a user's personalization (eqs. 16-19 + marks).

The search a user runs (:mod:`personalization.services.search`) calls :func:`rank_for_user`
with the general candidates (the general index's nearest photos, at least 200) and the query
as it was asked. What the user gets depends on how close the query is to the queries their
feedback answered (:mod:`personalization.engine.closeness`, closeness c in [0, 1]; far from
all: c = 0):

- strength s = w x c (w: the slider). s = 0 (w = 0, or nothing taught near this query):
  the general ranking itself, nothing of the user's read or mixed in;
- otherwise the score adds up from three terms (:class:`scoring.Shares`), the head's only
  when it was trained on some of the close feedback:
  ``(1 - s) d_general + s_head d_personal + s_marks d_marks``, where d_marks is the distance to
  the nearest photo the user marked *on a query close to this one* (marks on other subjects
  do not pull this search) and d_personal eq. 16 of the active head on the general scale
  (calibrated), for the nearest ``PSBIR_PERSONAL_RESCORE_DEPTH`` candidates (a projection
  head: ``PSBIR_PERSONAL_RESCORE_DEPTH_POOLED``, every candidate).

A user can say a search is like an earlier one they taught (``like_query``: "drawing the
same thing as one of these earlier searches?", offered for the nearest taught query of each
of the nearest ``PSBIR_PERSONAL_OFFER_SUBJECTS`` subjects as ``Ranking.suggested_taught_ids``):
the feedback of that query's subject then counts fully
(:func:`~personalization.engine.closeness.confirmed_closeness`), where a new drawing of a
subject new to the model is often not close enough to its earlier drawings to tell.

Every result keeps its terms (``RankedImage.terms``) so "why this result" can show them
adding up to the score it was ranked by, and which mark moved it.
``PSBIR_PERSONAL_MEMORY = 0`` and ``PSBIR_PERSONAL_CALIBRATED = 0`` give the paper's pure,
raw eq. 18. docs/personalization.md has the rule, its calibration and the measurements.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings

from personalization import closeness_rules, head_files, selectors
from personalization.engine import scoring
from personalization.engine.closeness import (
    confirmed_closeness,
    offered_taught,
    query_closeness,
    taught_subjects,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AskedQuery:
    """A query as search asked the index: its general vector (a sketch's averaged with its
    mirror image's, expanded with its nearest photos), its kind, its trunk map (None:
    unknown, nothing personal is re-scored) and the general model version both are of."""

    vector: np.ndarray
    kind: str  # "sketch" or "photo"
    features: np.ndarray | None
    model_version: str


@dataclass(frozen=True)
class RankedImage:
    image_id: int
    distance: float  # what the ranking is sorted by: the sum of ``terms``' products
    general_distance: float
    personal_distance: float | None  # eq. 16 of the head, raw
    memory_distance: float | None = None  # to the nearest mark of a close query
    # {"general": [share, d], "head": [share, d], "marks": [share, d], "mark": {...}}
    terms: dict | None = None


@dataclass(frozen=True)
class Ranking:
    images: list[RankedImage]
    personal_weight: float  # the w that was applied (0 when nothing personal was)
    personal_head_version: int | None
    memory_marks: int = 0  # marks of close queries that pulled this list
    closeness: float = 0.0  # to the nearest query the user's feedback answered
    nearest_taught_id: int | None = None
    shares: scoring.Shares | None = field(default=None)
    query_vector: np.ndarray | None = None  # the vector closeness was judged on
    # The taught queries offered as "drawing the same thing as one of these earlier
    # searches?" (the nearest of each of the nearest subjects, nearest first) when saying
    # yes would change the ranking; and the one the user said yes to.
    suggested_taught_ids: tuple[int, ...] = ()
    like_query_id: int | None = None

    @property
    def suggested_taught_id(self) -> int | None:
        """The nearest offered taught query (None: nothing offered)."""
        return self.suggested_taught_ids[0] if self.suggested_taught_ids else None


class NotTaught(ValueError):
    """``like_query`` is not a query the user's live marks answered (with this model)."""


def _general(
    ids: np.ndarray,
    general: np.ndarray,
    top_k: int,
    query: AskedQuery | None,
    suggested_taught_ids: tuple[int, ...] = (),
) -> Ranking:
    images = [
        RankedImage(
            image_id=int(ids[i]),
            distance=float(general[i]),
            general_distance=float(general[i]),
            personal_distance=None,
        )
        for i in scoring.top_k_order(general, top_k)
    ]
    return Ranking(
        images=images,
        personal_weight=0.0,
        personal_head_version=None,
        query_vector=None if query is None else query.vector,
        suggested_taught_ids=suggested_taught_ids,
    )


def rank_for_user(
    *,
    user: object,
    query: AskedQuery | None,
    candidate_ids: np.ndarray,
    general_distances: np.ndarray,
    top_k: int,
    personal_weight: float | None = None,
    like_query_id: int | None = None,
) -> Ranking:
    """Order the general candidates for ``user``.

    ``candidate_ids`` and ``general_distances`` are the general index's answer in ascending
    distance. ``personal_weight`` overrides the user's stored w for this search (None:
    stored w). ``query`` None (or w = 0, or nothing taught close to it) gives the general
    order cut to ``top_k``, reported with w = 0. ``like_query_id``: the user said this
    search is like that taught query (:class:`NotTaught` when it is not one).
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
    if query is None or w == 0 or not len(candidate_ids):
        return _general(candidate_ids, general, top_k, query)
    every, suggested = _taught_closeness(user, query, like_query_id)
    taught = [(t, c) for t, c in every if c > 0]
    if not taught:
        return _general(candidate_ids, general, top_k, query, suggested)
    closeness = max(c for _, c in taught)
    nearest_id = max(taught, key=lambda tc: tc[1])[0].query_id
    memory, mark_of = _marks(user, taught, candidate_ids)
    head_row = selectors.active_head(user=user) if query.features is not None else None
    if head_row is not None and not any(
        t.first_feedback_id <= head_row.feedback_watermark for t, _ in taught
    ):
        # The close feedback is newer than the head: it never learnt this subject.
        head_row = None
    personal = None
    if head_row is not None:
        # Only the nearest candidates are re-scored (docs/personalization.md), nearest by
        # the score without the head: all of them for a projection head (pooled features,
        # its fc only), fewer for a head that reads trunk maps.
        depth = max(int(top_k), _rescore_depth(head_row))
        before = scoring.Shares.of(w, closeness, head=False, marks=memory is not None)
        keep = scoring.top_k_order(scoring.personalized_score(general, before, marks=memory), depth)
        candidate_ids, general = candidate_ids[keep], general[keep]
        if memory is not None:
            memory, mark_of = memory[keep], [mark_of[i] for i in keep.tolist()]
        personal = _personal_distances(user, head_row, query.features, candidate_ids)
    if personal is None and memory is None:
        return _general(candidate_ids, general, top_k, query, suggested)
    on_scale = None if personal is None else scoring.calibrated(personal, _calibration(head_row))
    shares = scoring.Shares.of(w, closeness, head=personal is not None, marks=memory is not None)
    score = scoring.personalized_score(general, shares, head=on_scale, marks=memory)
    images = []
    for i in scoring.top_k_order(score, top_k):
        terms: dict[str, Any] = {"general": [shares.general, float(general[i])]}
        if on_scale is not None:
            terms["head"] = [shares.head, float(on_scale[i])]
        if memory is not None:
            terms["marks"] = [shares.marks, float(memory[i])]
            terms["mark"] = mark_of[i]
        images.append(
            RankedImage(
                image_id=int(candidate_ids[i]),
                distance=float(score[i]),
                general_distance=float(general[i]),
                personal_distance=None if personal is None else float(personal[i]),
                memory_distance=None if memory is None else float(memory[i]),
                terms=terms,
            )
        )
    marks = len({m["image_id"] for m in mark_of}) if memory is not None else 0
    return Ranking(
        images=images,
        personal_weight=w,
        personal_head_version=head_row.version if personal is not None else None,
        memory_marks=marks,
        closeness=closeness,
        nearest_taught_id=nearest_id,
        shares=shares,
        query_vector=query.vector,
        suggested_taught_ids=suggested,
        like_query_id=like_query_id,
    )


def _taught_closeness(
    user: Any, query: AskedQuery, like_query_id: int | None
) -> tuple[list[tuple[selectors.TaughtQuery, float]], tuple[int, ...]]:
    """Every query the user's live marks answered, with this query's closeness to it (the
    measured rule, or 1 for the subject of ``like_query_id``), and the taught queries to
    offer as "like one of these earlier searches?" (:func:`offered_taught`; none once the
    user said yes). ([], ()) when nothing is taught or no rule is measured for this model."""
    rule = closeness_rules.rule_for(query.model_version)
    if rule is None:
        if like_query_id is not None:
            raise NotTaught("no closeness rule is measured for this model")
        return [], ()
    taught = selectors.taught_queries(
        user=user,
        model_version=query.model_version,
        limit=settings.PSBIR_PERSONAL_MEMORY_MARKS,
    )
    taught = [t for t in taught if t.vector.shape == np.shape(query.vector)]
    ids = [t.query_id for t in taught]
    if like_query_id is not None and like_query_id not in ids:
        raise NotTaught(f"query {like_query_id} has no live marks for this model")
    if not taught:
        return [], ()
    vectors = np.stack([t.vector for t in taught])
    closeness = query_closeness(rule, query.vector, query.kind, vectors, [t.kind for t in taught])
    # One subject: searches whose marks overlap, and a search the user said is like another.
    position = {query_id: i for i, query_id in enumerate(ids)}
    said_alike = [
        (i, position[t.like_query_id]) for i, t in enumerate(taught) if t.like_query_id in position
    ]
    subjects = taught_subjects([t.image_ids for t in taught], said_alike)
    if like_query_id is not None:
        closeness = confirmed_closeness(closeness, subjects, position[like_query_id])
        suggested: tuple[int, ...] = ()
    else:
        distances = np.linalg.norm(vectors - np.asarray(query.vector), axis=1)
        offered = offered_taught(
            distances, closeness, subjects, settings.PSBIR_PERSONAL_OFFER_SUBJECTS
        )
        suggested = tuple(ids[i] for i in offered)
    return [(t, float(c)) for t, c in zip(taught, closeness, strict=True)], suggested


def _marks(
    user: Any, taught: list[tuple[selectors.TaughtQuery, float]], candidate_ids: np.ndarray
) -> tuple[np.ndarray | None, list[dict]]:
    """Each candidate's general distance to the nearest photo marked on a close query, and
    which mark that is ({"image_id", "query_id"}: the closest query that marked it);
    (None, []) when the memory is off or no marked photo is in an index."""
    if not settings.PSBIR_PERSONAL_MEMORY:
        return None, []
    query_of: dict[int, int] = {}
    for t, _ in sorted(taught, key=lambda tc: tc[1]):  # the closest query wins
        for image_id in t.image_ids:
            query_of[image_id] = t.query_id
    from retrieval.selectors import stored_vectors

    wanted = list(dict.fromkeys([*candidate_ids.tolist(), *query_of]))
    vectors = stored_vectors(tenant_id=user.tenant_id, image_ids=wanted)
    marked = [i for i in query_of if i in vectors]
    if not marked:
        return None, []
    dim = len(vectors[marked[0]])
    rows = np.stack([vectors.get(int(i), np.full(dim, np.nan)) for i in candidate_ids.tolist()])
    memory, nearest = scoring.memory_distances(rows, np.stack([vectors[i] for i in marked]))
    # A candidate whose vector is not stored (being re-indexed) gets the farthest memory.
    finite = np.isfinite(memory)
    memory[~finite] = memory[finite].max() if finite.any() else 0.0
    mark_of = [{"image_id": marked[int(n)], "query_id": query_of[marked[int(n)]]} for n in nearest]
    return memory, mark_of


def _calibration(head_row: Any) -> scoring.Calibration | None:
    """The head's stored distance scales, unless the paper's raw eq. 18 is configured."""
    if not settings.PSBIR_PERSONAL_CALIBRATED:
        return None
    return scoring.Calibration.from_dict((head_row.details or {}).get("calibration"))


def _head_scope(head_row: Any) -> str | None:
    return ((head_row.details or {}).get("config") or {}).get("scope")


def _rescore_depth(head_row: Any) -> int:
    if _head_scope(head_row) == "projection":
        return settings.PSBIR_PERSONAL_RESCORE_DEPTH_POOLED
    return settings.PSBIR_PERSONAL_RESCORE_DEPTH


def _personal_distances(
    user: Any, head_row: Any, query_features: np.ndarray, candidate_ids: np.ndarray
) -> np.ndarray | None:
    """Eq. 16 for every candidate, or None when the head cannot score these photos.

    A head that retrained only the general head's projection re-scores from the photos'
    pooled features (2.5 KiB each, only its ``fc`` runs); other heads, and photos indexed
    before pooled features were kept, from their trunk maps (26 KiB, the whole head)."""
    from retrieval.selectors import cached_pooled_features, cached_trunk_maps

    try:
        head = head_files.load(head_row)
    except (FileNotFoundError, ValueError):
        logger.exception("head v%s of user %s cannot be loaded", head_row.version, user.pk)
        return None
    if _head_scope(head_row) == "projection" and hasattr(head, "project"):
        pooled, found = cached_pooled_features(
            tenant_id=user.tenant_id, model_version=head_row.model_version, image_ids=candidate_ids
        )
        if found.all():
            query = np.asarray(query_features)
            return scoring.personal_distances_pooled(head, query, pooled).astype(np.float64)
    maps, found = cached_trunk_maps(
        tenant_id=user.tenant_id, model_version=head_row.model_version, image_ids=candidate_ids
    )
    if not found.any():
        logger.info("head v%s of user %s: no candidate features", head_row.version, user.pk)
        return None
    distances = np.empty(len(candidate_ids), dtype=np.float64)
    distances[found] = scoring.personal_distances(head, np.asarray(query_features), maps)
    # A candidate without cached features (being re-indexed) cannot be scored: it gets the
    # worst personal distance seen, so it is ranked by its general distance among the last.
    distances[~found] = distances[found].max()
    return distances
