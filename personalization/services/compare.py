"""Before / after: a stored query re-run with today's model, beside what it returned then.

"Compare now" runs the query again through the search path: the general candidates of the
libraries it searched, asked once, ranked twice: in the general model's own order (nothing of
the user's mixed in), and through ``rank_for_user`` at the user's current w with their active
head, as a search would rank it today. Nothing is stored: the query, its results and its
feedback stay as they were. The photos the user marked on the query are followed through
the three lists ("#14 -> #2").

The query is embedded again only when it has to be: a sketch whose stored trunk map is of
today's model gets its vector from that map through the general head (no trunk pass); after
a model change the strokes (or the stored binarised sketch) go through the engine again. A
"more like this" query reads its photo's stored vector and trunk map, as the search did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError

from personalization import selectors
from personalization.models import Feedback
from personalization.services.search import general_candidates, rank_candidates
from retrieval import selectors as retrieval_selectors
from retrieval.models import SketchQuery
from retrieval.services import queries
from retrieval.services.queries import QueryEmbedding, SearchUnavailable


@dataclass(frozen=True)
class ComparedResult:
    rank: int
    image_id: int
    distance: float
    general_distance: float
    personal_distance: float | None
    marked: bool


@dataclass(frozen=True)
class RankChange:
    """Where one marked photo stood then and stands now (None: outside that top K)."""

    image_id: int
    then_rank: int | None
    general_rank: int | None
    personal_rank: int | None

    @property
    def label(self) -> str:
        return f"{_rank_text(self.then_rank)} -> {_rank_text(self.personal_rank)}"

    @property
    def moved(self) -> int | None:
        """Places gained (positive: closer to the top) from then to today's personal list."""
        if self.then_rank is None or self.personal_rank is None:
            return None
        return self.then_rank - self.personal_rank


@dataclass
class Comparison:
    query: SketchQuery
    then: list[ComparedResult]
    now_general: list[ComparedResult]
    now_personal: list[ComparedResult]
    personal_weight: float
    personal_head_version: int | None
    model_version: str
    changes: list[RankChange]
    warnings: list[str] = field(default_factory=list)
    memory_marks: int = 0  # the user's marked photos that pulled today's personalized list

    @property
    def personalized(self) -> bool:
        return self.personal_head_version is not None


def _rank_text(rank: int | None) -> str:
    return f"#{rank}" if rank is not None else "not in the top K"


def marked_image_ids(*, user: Any, query: SketchQuery) -> list[int]:
    """The photos ``user`` marked as meant on ``query`` (live marks), oldest mark first."""
    rows = selectors.feedback_list(user=user, query_id=query.pk).filter(kind=Feedback.Kind.MATCH)
    return list(dict.fromkeys(row.result.image_id for row in reversed(list(rows))))


def _query_embedding(engine: Any, query: SketchQuery) -> QueryEmbedding:
    if query.source_image is not None:
        return queries.photo_query_embedding(
            image=query.source_image, model_version=engine.model_version
        )
    stored = retrieval_selectors.query_trunk_map(query=query)
    if stored is not None and query.model_version == engine.model_version:
        vector = engine.head_vectors(np.asarray(stored)[None])[0]
        return QueryEmbedding(vector=vector, features=stored, sketch_png=b"")
    if query.kind == "photo":
        raise SearchUnavailable(
            "The photo this query searched with was deleted and the model changed since: "
            "it cannot be searched again."
        )
    sketch_bytes = None
    if query.strokes is None:
        if not query.sketch_image:
            raise SearchUnavailable("This query kept neither its strokes nor its sketch.")
        with query.sketch_image.storage.open(query.sketch_image.name, "rb") as handle:
            sketch_bytes = handle.read()
    return queries.sketch_query_embedding(engine, strokes=query.strokes, sketch_bytes=sketch_bytes)


def _personal_now(common: dict, query: SketchQuery) -> Any:
    """Today's personalized list at the user's w, as the user asked it: like the earlier
    search they said it was like, while that search still has live marks."""
    if query.like_query_id is not None:
        try:
            return rank_candidates(**common, personal_weight=None, like_query=query.like_query)
        except ValidationError:
            pass  # its marks were forgotten since: the measured closeness alone
    return rank_candidates(**common, personal_weight=None)


def query_compare(*, user: Any, query: SketchQuery) -> Comparison:
    """Re-run ``query`` (one of ``user``'s, already fetched through their tenant) now.

    Raises :class:`SearchUnavailable` when none of its libraries can be searched now (deleted,
    being re-indexed) or the query cannot be embedded again.
    """
    from retrieval.engine_runtime import get_engine

    if query.user_id != user.pk or query.tenant_id != user.tenant_id:
        raise ValueError("a query is compared for its own user only")
    marked = marked_image_ids(user=user, query=query)
    marked_set = set(marked)
    stored = getattr(query, "ordered_results", None)
    if stored is None:
        stored = list(query.results.order_by("rank"))
    then = [
        ComparedResult(
            rank=r.rank,
            image_id=r.image_id,
            distance=r.distance,
            general_distance=r.general_distance,
            personal_distance=r.personal_distance,
            marked=r.image_id in marked_set,
        )
        for r in stored
    ]
    libraries = list(query.libraries.all())
    if not libraries:
        raise SearchUnavailable("The libraries this query searched no longer exist.")
    engine = get_engine()
    usable, warnings = queries.searchable_libraries(
        libraries=libraries, model_version=engine.model_version
    )
    if query.model_version and query.model_version != engine.model_version:
        warnings.append(
            f"This query ran on model {query.model_version}; today's model is "
            f"{engine.model_version}, so the sketch was embedded again."
        )
    embedding = _query_embedding(engine, query)
    exclude = (query.source_image_id,) if query.source_image_id else ()
    candidates = general_candidates(
        libraries=usable, embedding=embedding, top_k=query.top_k, exclude=exclude
    )
    common = {
        "user": user,
        "candidates": candidates,
        "embedding": embedding,
        "model_version": engine.model_version,
        "top_k": query.top_k,
    }
    # The general column is exactly a live search at w = 0.
    general = rank_candidates(**common, personal_weight=0.0)
    personal = _personal_now(common, query)
    now_general = _listed(general.images, marked_set)
    now_personal = _listed(personal.images, marked_set)
    memory_marks = int(getattr(personal, "memory_marks", 0) or 0)
    if personal.personal_head_version is None:
        warnings.append(
            "No personalized model re-scored this query (none is in use, or w is 0)"
            + (
                ": today's personalized list differs from the general one only by your marks."
                if memory_marks
                else ": today's personalized list is the general one."
            )
        )

    def rank_in(rows: list[ComparedResult], image_id: int) -> int | None:
        return next((r.rank for r in rows if r.image_id == image_id), None)

    changes = [
        RankChange(
            image_id=image_id,
            then_rank=rank_in(then, image_id),
            general_rank=rank_in(now_general, image_id),
            personal_rank=rank_in(now_personal, image_id),
        )
        for image_id in marked
    ]
    return Comparison(
        query=query,
        then=then,
        now_general=now_general,
        now_personal=now_personal,
        personal_weight=personal.personal_weight,
        personal_head_version=personal.personal_head_version,
        model_version=engine.model_version,
        changes=changes,
        warnings=warnings,
        memory_marks=memory_marks,
    )


def _listed(images: list[Any], marked: set[int]) -> list[ComparedResult]:
    return [
        ComparedResult(
            rank=rank,
            image_id=item.image_id,
            distance=item.distance,
            general_distance=item.general_distance,
            personal_distance=item.personal_distance,
            marked=item.image_id in marked,
        )
        for rank, item in enumerate(images, start=1)
    ]
