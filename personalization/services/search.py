"""Running a sketch search and storing it: the query, its conv5 features, its ranked results.

Flow: sketch (strokes or image) -> engine -> trunk map + general vector (the sketch's and its
mirror image's, averaged) -> expanded with its nearest photos (average query expansion) ->
each chosen library's index -> merged general candidates (at least ``CANDIDATES``) ->
``personalization.ranking.rank_for_user`` (the user's head, mixed with weight w) -> the top K
stored as :class:`SearchResult` rows, which feedback refers to.

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

from personalization.ranking import AskedQuery, Ranking, rank_for_user
from retrieval import photos, selectors
from retrieval.models import (
    ImageLibrary,
    LibraryImage,
    SearchResult,
    SearchSession,
    SketchQuery,
)
from retrieval.services import indexing, sessions

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


@dataclass(frozen=True)
class QueryEmbedding:
    """What a query is searched with: the general vector and the trunk map (None: unknown,
    then nothing personal is mixed in)."""

    vector: np.ndarray  # before expansion (a sketch's: averaged with its mirror image's)
    features: np.ndarray | None
    sketch_png: bytes  # what the query looks like (binarised sketch, or the photo's thumbnail)
    kind: str = "sketch"  # or "photo" (more like this)


def rank_candidates(
    *,
    user: Any,
    libraries: list[ImageLibrary],
    embedding: QueryEmbedding,
    model_version: str,
    top_k: int,
    personal_weight: float | None,
    exclude: tuple[int, ...] = (),
) -> tuple[Ranking, float | None]:
    """General candidates of ``libraries`` for the query, ranked for ``user`` (the one path
    of searches, "more like this" and "compare now"; ``personal_weight`` 0 is the general
    model's own order, nothing of the user's mixed in).

    The general ranking is the served one: the query's vector expanded with its nearest
    photos (``PSBIR_QUERY_EXPANSION``) before the candidates are drawn; how close the query
    is to what the user taught is judged on that expanded vector too (what the index was
    asked; ``Ranking.query_vector``, stored with the query). Also returned: the best
    general distance of all candidates (None: no candidate), what the far-match note reads.
    """
    vector = selectors.expanded_query(
        libraries=libraries, vector=embedding.vector, neighbours=settings.PSBIR_QUERY_EXPANSION
    )
    ids, distances = selectors.general_candidates(
        libraries=libraries, vector=vector, k=max(top_k, CANDIDATES) + len(exclude)
    )
    if exclude:
        keep = ~np.isin(ids, np.asarray(exclude, dtype=np.int64))
        ids, distances = ids[keep], distances[keep]
    asked = AskedQuery(
        vector=np.asarray(vector, dtype=np.float32).reshape(-1),
        kind=embedding.kind,
        features=embedding.features,
        model_version=model_version,
    )
    ranking = rank_for_user(
        user=user,
        query=asked,
        candidate_ids=ids,
        general_distances=distances,
        top_k=top_k,
        personal_weight=personal_weight,
    )
    return ranking, (float(distances.min()) if len(distances) else None)


def far_match_note(*, best_distance: float | None, model_version: str) -> str | None:
    """The note for a sketch search whose best match is far, or None.

    "Far" is above the threshold measured for ``model_version`` on training sketches
    (:mod:`retrieval.engine.far_match`; ``docs/results.md``, "When the best match is far"):
    99 % of searches whose category the gallery holds stay under it.
    """
    from retrieval.engine.far_match import rule_for

    rule = rule_for(model_version)
    if rule is None or not rule.is_far(best_distance):
        return None
    return (
        f"Even the closest photo is far from your drawing (distance {best_distance:.2f}; "
        f"a search whose subject the library holds comes closer than {rule.threshold:.2f} "
        "99 times in 100): the searched libraries may hold nothing like it. "
        "Browse them to see what they hold."
    )


def photo_query_embedding(*, image: LibraryImage, model_version: str) -> QueryEmbedding:
    """A library photo as a query: its stored vector and trunk map (no forward pass).

    Raises :class:`SearchUnavailable` when the photo is not in its library's index of
    ``model_version`` (not indexed yet, failed, or its library is being re-indexed).
    """
    library = image.library
    vector = None
    if image.status == LibraryImage.Status.INDEXED and library.model_version == model_version:
        vector = selectors.image_vector(image=image)
    if vector is None:
        raise SearchUnavailable(
            f"“{image}” is not in the index of the current model yet, so it cannot be "
            "searched with; try again once its library is indexed."
        )
    features = selectors.image_trunk_map(image=image, model_version=model_version)
    return QueryEmbedding(
        vector=vector, features=features, sketch_png=_thumbnail_bytes(image), kind="photo"
    )


def _thumbnail_bytes(image: LibraryImage) -> bytes:
    stored = image.thumbnail or image.photo
    try:
        with stored.storage.open(stored.name, "rb") as handle:
            return photos.thumbnail_jpeg(photos.decode_rgb(handle.read()))
    except (OSError, ValueError):
        return photos.png_bytes(np.full((256, 256), 255, np.uint8))


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
) -> SearchOutcome:
    """Search ``libraries`` (the caller's, already tenant-checked) with a sketch; store it all.

    Exactly one of ``source_image`` (a library photo of the caller's tenant: "more like
    this"), ``strokes`` (the canvas payload) and ``sketch_bytes`` (an uploaded image) is used,
    in that order. ``personal_weight`` None means the user's default.
    Raises ``ValidationError`` (bad input) or :class:`SearchUnavailable` (nothing to search).
    """
    from retrieval.engine_runtime import get_engine

    top_k, personal_weight = validate_search_settings(top_k=top_k, personal_weight=personal_weight)
    if source_image is not None and source_image.tenant_id != user.tenant_id:
        raise ValueError("the source image belongs to another organisation")
    if source_image is None and strokes is None and not sketch_bytes:
        raise ValidationError({"strokes": "Draw a sketch or upload a sketch image."})
    if not libraries:
        raise SearchUnavailable("Your organisation has no image library to search yet.")
    engine = get_engine()
    usable, warnings = _searchable(libraries, engine.model_version)
    if not usable:
        raise SearchUnavailable(" ".join(warnings))
    if source_image is not None:
        query_input = photo_query_embedding(image=source_image, model_version=engine.model_version)
        strokes = None
        if query_input.features is None:
            warnings.append(
                "This photo's cached trunk map is missing (being re-indexed?): "
                "the results are the general model's, not personalized."
            )
    else:
        embedding = _embed_sketch(engine, strokes=strokes, sketch_bytes=sketch_bytes)
        # What the network saw (the binarised 256x256 sketch), not the raw upload.
        query_input = QueryEmbedding(
            vector=embedding.vector,
            features=embedding.features,
            sketch_png=photos.png_bytes(np.asarray(embedding.sketch_map, dtype=np.uint8)),
        )
    ranking, best_distance = rank_candidates(
        user=user,
        libraries=usable,
        embedding=query_input,
        model_version=engine.model_version,
        top_k=top_k,
        personal_weight=personal_weight,
        exclude=(source_image.pk,) if source_image is not None else (),
    )
    # Measured for drawings only: a photo is much nearer its library than a sketch is.
    if source_image is None:
        note = far_match_note(best_distance=best_distance, model_version=engine.model_version)
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
