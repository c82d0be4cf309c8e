"""Running a sketch search and storing it: the query, its conv5 features, its ranked results.

Flow: sketch (strokes or image) -> engine -> conv5 map + general vector -> each chosen
library's index -> merged general candidates (at least ``CANDIDATES``) ->
``personalization.ranking.rank_for_user`` (the user's head, mixed with weight w) -> the top K
stored as :class:`SearchResult` rows, which feedback refers to.
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

from personalization.ranking import rank_for_user
from retrieval import photos, selectors
from retrieval.models import ImageLibrary, SearchResult, SearchSession, SketchQuery
from retrieval.services import indexing

# General candidates handed to the personal re-ranking: enough for a personal head to pull
# a photo from far down the general list into the top K.
CANDIDATES = 200


class SearchUnavailable(Exception):
    """No chosen library can be searched right now; the message says why (HTTP 409)."""


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


def _searchable(
    libraries: list[ImageLibrary], version: str
) -> tuple[list[ImageLibrary], list[str]]:
    """Libraries whose index matches the engine's model version, and notes about the others."""
    usable, notes = [], []
    for library in libraries:
        if not library.index_file or library.index_size == 0:
            notes.append(f"Library “{library.name}” has no indexed photos yet.")
        elif library.model_version != version:
            # Never compare vectors of two model versions: re-index instead.
            indexing.library_reindex_for_search(library=library)
            notes.append(
                f"Library “{library.name}” was indexed with model {library.model_version} and "
                f"is being re-indexed for the current model {version}; it was not searched."
            )
        else:
            usable.append(library)
    return usable, notes


def _embed_sketch(engine: Any, *, strokes: Any, sketch_bytes: bytes | None) -> Any:
    from retrieval.engine.errors import SketchError

    try:
        if strokes is not None:
            return engine.embed_sketch_strokes(strokes)
        checked = photos.check_photo(sketch_bytes or b"")
        return engine.embed_sketch_image(checked.rgb)
    except photos.PhotoRejected as exc:
        raise ValidationError({"sketch": str(exc)}) from None
    except SketchError as exc:
        field_name = "strokes" if strokes is not None else "sketch"
        raise ValidationError({field_name: str(exc)}) from None


def search_run(
    *,
    user: Any,
    libraries: list[ImageLibrary],
    strokes: dict[str, Any] | None = None,
    sketch_bytes: bytes | None = None,
    top_k: int,
    personal_weight: float | None = None,
    session: SearchSession | None = None,
) -> SearchOutcome:
    """Search ``libraries`` (the caller's, already tenant-checked) with a sketch; store it all.

    Exactly one of ``strokes`` (the canvas payload) and ``sketch_bytes`` (an uploaded image)
    is used, strokes first. ``personal_weight`` None means the user's default.
    Raises ``ValidationError`` (bad input) or :class:`SearchUnavailable` (nothing to search).
    """
    from retrieval.engine_runtime import get_engine

    top_k, personal_weight = validate_search_settings(top_k=top_k, personal_weight=personal_weight)
    if strokes is None and not sketch_bytes:
        raise ValidationError({"strokes": "Draw a sketch or upload a sketch image."})
    if not libraries:
        raise SearchUnavailable("Your organisation has no image library to search yet.")
    engine = get_engine()
    usable, warnings = _searchable(libraries, engine.model_version)
    if not usable:
        raise SearchUnavailable(" ".join(warnings))
    embedding = _embed_sketch(engine, strokes=strokes, sketch_bytes=sketch_bytes)
    ids, distances = selectors.general_candidates(
        libraries=usable, vector=embedding.vector, k=max(top_k, CANDIDATES)
    )
    ranking = rank_for_user(
        user=user,
        query_features=embedding.features,
        candidate_ids=ids,
        general_distances=distances,
        top_k=top_k,
        personal_weight=personal_weight,
    )
    with transaction.atomic():
        if session is None:
            session = SearchSession.objects.create(tenant_id=user.tenant_id, user=user)
        query = SketchQuery(
            tenant_id=user.tenant_id,
            session=session,
            user=user,
            strokes=strokes,
            features=np.asarray(embedding.features, dtype=np.float16).tobytes(),
            top_k=top_k,
            personal_weight=ranking.personal_weight,
            model_version=engine.model_version,
            personal_head_version=ranking.personal_head_version,
        )
        # What the network saw (the binarised 256x256 sketch), not the raw upload.
        query.sketch_image.save(
            f"{secrets.token_hex(10)}.png",
            ContentFile(photos.png_bytes(np.asarray(embedding.sketch_map, dtype=np.uint8))),
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
            )
            for rank, item in enumerate(ranking.images, start=1)
        )
        session.save(update_fields=["updated_at"])
    return SearchOutcome(query=query, warnings=warnings)
