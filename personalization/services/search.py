"""The search a user runs: the general candidates, ranked for the user, stored.

This is the one place that composes retrieval's general search with the user's personal
ranking (it sits on personalization's floor, above both; docs/architecture.md):

sketch (strokes or image) -> engine -> trunk map + general vector (the sketch's and its
mirror image's, averaged; :mod:`retrieval.services.queries`) -> the general candidates of
the chosen libraries' indexes, the query expanded with its nearest photos first (at least
``CANDIDATES``; :func:`retrieval.selectors.general_candidates`) ->
:func:`personalization.ranking.rank_for_user` (the user's head and marks, mixed with weight
w) -> the top K stored as :class:`SearchResult` rows, which feedback refers to.

"More like this" (``source_image``) takes a library photo as the query: the shared encoder
embeds photos as it embeds sketches, so the photo's vector is read from its library's index
and its cached trunk map serves as the query map of the personal re-scoring (no forward
pass). The photo itself is left out of its own results.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction

from personalization.ranking import AskedQuery, NotTaught, Ranking, rank_for_user
from retrieval import selectors
from retrieval.models import (
    ImageLibrary,
    LibraryImage,
    SearchResult,
    SearchSession,
    SketchQuery,
)
from retrieval.services import queries, sessions
from retrieval.services.queries import QueryEmbedding, SearchUnavailable

# General candidates handed to the personal re-ranking: enough for a personal head to pull
# a photo from far down the general list into the top K.
CANDIDATES = 200


@dataclass
class SearchOutcome:
    query: SketchQuery
    warnings: list[str] = field(default_factory=list)


def validate_search_settings(*, top_k: Any, personal_weight: Any) -> tuple[int, float | None]:
    """Check K (1..PSBIR_MAX_TOP_K) and w (0..1 or None); ``ValidationError`` per bad field."""
    errors: dict[str, str] = {}
    max_k = settings.PSBIR_MAX_TOP_K
    k = _whole_number(top_k)
    if k is None or not 1 <= k <= max_k:
        errors["top_k"] = f"K must be a whole number from 1 to {max_k}; got {top_k!r}."
    w: float | None = None
    if personal_weight is not None:
        try:
            w = float(personal_weight)
        except (TypeError, ValueError):
            w = None
        if isinstance(personal_weight, bool) or w is None or not 0.0 <= w <= 1.0:
            errors["personal_weight"] = f"w must be a number from 0 to 1; got {personal_weight!r}."
    if errors:
        raise ValidationError(errors)
    return k, w  # type: ignore[return-value]


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def general_candidates(
    *,
    libraries: list[ImageLibrary],
    embedding: QueryEmbedding,
    top_k: int,
    exclude: tuple[int, ...] = (),
) -> selectors.GeneralCandidates:
    """The general candidates of ``libraries`` for the query, as a search asks them: its
    vector expanded with its nearest photos (``PSBIR_QUERY_EXPANSION``), at least
    ``CANDIDATES`` of them, ``exclude`` left out."""
    return selectors.general_candidates(
        libraries=libraries,
        vector=embedding.vector,
        k=max(top_k, CANDIDATES),
        neighbours=settings.PSBIR_QUERY_EXPANSION,
        exclude=exclude,
    )


def rank_candidates(
    *,
    user: Any,
    candidates: selectors.GeneralCandidates,
    embedding: QueryEmbedding,
    model_version: str,
    top_k: int,
    personal_weight: float | None,
    like_query: SketchQuery | None = None,
) -> Ranking:
    """``candidates`` ranked for ``user`` (the one path of searches, "more like this" and
    "compare now"; ``personal_weight`` 0 is the general model's own order, nothing of the
    user's mixed in). How close the query is to what the user taught is judged on the
    vector the index was asked (``Ranking.query_vector``, stored with the query);
    ``like_query`` (one of the user's, already checked): the user said this search is like
    it, so its subject's feedback counts fully (``ValidationError`` when it has no live
    marks)."""
    asked = AskedQuery(
        vector=candidates.vector,
        kind=embedding.kind,
        features=embedding.features,
        model_version=model_version,
    )
    try:
        return rank_for_user(
            user=user,
            query=asked,
            candidate_ids=candidates.ids,
            general_distances=candidates.distances,
            top_k=top_k,
            personal_weight=personal_weight,
            like_query_id=None if like_query is None else like_query.pk,
        )
    except NotTaught as exc:
        raise ValidationError(
            {
                "like_query": "That earlier search has no marks left to use (they were "
                "forgotten or withdrawn, or it was made with another model)."
            }
        ) from exc


def search_run(
    *,
    user: Any,
    libraries: list[ImageLibrary],
    strokes: dict[str, Any] | None = None,
    sketch_bytes: bytes | None = None,
    source_image: LibraryImage | None = None,
    top_k: int,
    personal_weight: float | None = None,
    session: SearchSession | None = None,
    like_query: SketchQuery | None = None,
) -> SearchOutcome:
    """Search ``libraries`` (the caller's, already tenant-checked) with a sketch; store it all.

    Exactly one of ``source_image`` (a library photo of the caller's tenant: "more like
    this"), ``strokes`` (the canvas payload) and ``sketch_bytes`` (an uploaded image) is used,
    in that order. ``personal_weight`` None means the user's default. ``like_query``: one
    of the user's earlier queries they say this one is like (:func:`rank_candidates`).
    Raises ``ValidationError`` (bad input) or :class:`SearchUnavailable` (nothing to search).
    """
    from retrieval.engine_runtime import get_engine

    top_k, personal_weight = validate_search_settings(top_k=top_k, personal_weight=personal_weight)
    if source_image is not None and source_image.tenant_id != user.tenant_id:
        raise ValueError("the source image belongs to another organisation")
    if like_query is not None and like_query.user_id != user.pk:
        raise ValueError("like_query is another user's query")
    if source_image is None and strokes is None and not sketch_bytes:
        raise ValidationError({"strokes": "Draw a sketch or upload a sketch image."})
    if not libraries:
        raise SearchUnavailable("Your organisation has no image library to search yet.")
    engine = get_engine()
    usable, warnings = queries.searchable_libraries(
        libraries=libraries, model_version=engine.model_version
    )
    if source_image is not None:
        query_input = queries.photo_query_embedding(
            image=source_image, model_version=engine.model_version
        )
        strokes = None
        if query_input.features is None:
            warnings.append(
                "This photo's cached trunk map is missing (being re-indexed?): "
                "the results are the general model's, not personalized."
            )
    else:
        query_input = queries.sketch_query_embedding(
            engine, strokes=strokes, sketch_bytes=sketch_bytes
        )
    candidates = general_candidates(
        libraries=usable,
        embedding=query_input,
        top_k=top_k,
        exclude=(source_image.pk,) if source_image is not None else (),
    )
    ranking = rank_candidates(
        user=user,
        candidates=candidates,
        embedding=query_input,
        model_version=engine.model_version,
        top_k=top_k,
        personal_weight=personal_weight,
        like_query=like_query,
    )
    # Measured for drawings only: a photo is much nearer its library than a sketch is.
    if source_image is None:
        note = queries.far_match_note(
            best_distance=candidates.best_distance, model_version=engine.model_version
        )
        if note:
            warnings.append(note)
    features = query_input.features
    with transaction.atomic():
        if session is None:
            session = sessions.session_create(user=user)
        was_automatic = sessions.title_is_automatic(session=session)
        query = SketchQuery(
            tenant_id=user.tenant_id,
            session=session,
            user=user,
            strokes=strokes,
            source_image=source_image,
            features=None if features is None else np.asarray(features, dtype=np.float16).tobytes(),
            vector=np.asarray(ranking.query_vector, dtype=np.float32).tobytes(),
            top_k=top_k,
            personal_weight=ranking.personal_weight,
            model_version=engine.model_version,
            personal_head_version=ranking.personal_head_version,
            closeness=ranking.closeness,
            nearest_taught_id=ranking.nearest_taught_id,
            suggested_taught_ids=list(ranking.suggested_taught_ids),
            like_query_id=ranking.like_query_id,
        )
        extension = "jpg" if source_image is not None else "png"
        query.sketch_image.save(
            f"{secrets.token_hex(10)}.{extension}",
            ContentFile(query_input.sketch_png),
            save=False,
        )
        query.save()
        query.libraries.set(usable)
        SearchResult.objects.bulk_create(
            SearchResult(
                tenant_id=user.tenant_id,
                query=query,
                image_id=item.image_id,
                rank=rank,
                distance=item.distance,
                general_distance=item.general_distance,
                personal_distance=item.personal_distance,
                terms=item.terms,
            )
            for rank, item in enumerate(ranking.images, start=1)
        )
        sessions.session_search_added(session=session, was_automatic=was_automatic)
    return SearchOutcome(query=query, warnings=warnings)
