"""The general half of a search: what a query is searched with, and where.

- :func:`searchable_libraries`: the chosen libraries whose index is of today's model (the
  others are re-indexed, and said so; none at all is :class:`SearchUnavailable`);
- :func:`sketch_query_embedding` / :func:`photo_query_embedding`: a drawing through the
  engine, or a library photo's stored vector and trunk map ("more like this", no forward
  pass), as a :class:`QueryEmbedding`;
- :func:`far_match_note`: what a drawing's search says when even its best match is far.

The search a user runs (these, the general candidates of ``retrieval.selectors``, the
personal ranking, the stored query) is composed in :mod:`personalization.services.search`,
the one place that knows both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError

from retrieval import photos, selectors, vector_stores
from retrieval.models import ImageLibrary, LibraryImage
from retrieval.services import indexing


class SearchUnavailable(Exception):
    """No chosen library can be searched right now; the message says why (HTTP 409)."""


@dataclass(frozen=True)
class QueryEmbedding:
    """What a query is searched with: the general vector and the trunk map (None: unknown,
    then nothing personal is mixed in)."""

    vector: np.ndarray  # before expansion (a sketch's: averaged with its mirror image's)
    features: np.ndarray | None
    sketch_png: bytes  # what the query looks like (binarised sketch, or the photo's thumbnail)
    kind: str = "sketch"  # or "photo" (more like this)


def searchable_libraries(
    *, libraries: list[ImageLibrary], model_version: str
) -> tuple[list[ImageLibrary], list[str]]:
    """Libraries whose index matches the engine's model version, and notes about the others;
    ``SearchUnavailable`` (saying why, library by library) when none can be searched."""
    usable, notes = [], []
    store = vector_stores.active_store()
    for library in libraries:
        if library.index_engine and library.index_engine != store.name and library.index_size:
            # The configured vector store changed (say, PostgreSQL got pgvector): move them.
            indexing.library_reindex_for_search(library=library)
            notes.append(
                f"Library “{library.name}” is being re-indexed into the {store.name} vector "
                "store; it was not searched."
            )
        elif not store.holds(library) or library.index_size == 0:
            notes.append(f"Library “{library.name}” has no indexed photos yet.")
        elif library.model_version != model_version:
            # Never compare vectors of two model versions: re-index instead.
            indexing.library_reindex_for_search(library=library)
            notes.append(
                f"Library “{library.name}” was indexed with model {library.model_version} and "
                f"is being re-indexed for the current model {model_version}; it was not "
                "searched."
            )
        else:
            usable.append(library)
    if not usable:
        raise SearchUnavailable(" ".join(notes))
    return usable, notes


def sketch_query_embedding(
    engine: Any, *, strokes: Any, sketch_bytes: bytes | None
) -> QueryEmbedding:
    """A drawing (canvas ``strokes``, else an uploaded image) through the engine; what it
    looks like is what the network saw (the binarised 256x256 sketch), not the raw upload.
    Bad input is a ``ValidationError`` naming the field."""
    from retrieval.engine.errors import SketchError

    try:
        if strokes is not None:
            embedding = engine.embed_sketch_strokes(strokes)
        else:
            checked = photos.check_photo(sketch_bytes or b"")
            embedding = engine.embed_sketch_image(checked.rgb)
    except photos.PhotoRejected as exc:
        raise ValidationError({"sketch": str(exc)}) from None
    except SketchError as exc:
        field_name = "strokes" if strokes is not None else "sketch"
        raise ValidationError({field_name: str(exc)}) from None
    return QueryEmbedding(
        vector=embedding.vector,
        features=embedding.features,
        sketch_png=photos.png_bytes(np.asarray(embedding.sketch_map, dtype=np.uint8)),
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
