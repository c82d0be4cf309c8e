"""Reads of libraries, photos, jobs, sessions and queries. Every lookup names the tenant.

Sessions, queries and results also name the user: they are a person's own history, so a
colleague in the same organisation gets the same 404 as a stranger.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from django.db.models import Count, Prefetch, Q, QuerySet

from accounts.models import Tenant
from retrieval import index_store
from retrieval.models import (
    ImageLibrary,
    IndexJob,
    LibraryImage,
    SearchResult,
    SearchSession,
    SketchQuery,
)


def library_list(*, tenant: Tenant | int) -> QuerySet[ImageLibrary]:
    # Explicit order: Meta.ordering is not applied to aggregating queries.
    return (
        ImageLibrary.objects.for_tenant(tenant)
        .annotate(
            image_count=Count("images", distinct=True),
            indexed_count=Count(
                "images", filter=Q(images__status=LibraryImage.Status.INDEXED), distinct=True
            ),
        )
        .order_by("name")
    )


def library_get(*, tenant: Tenant | int, pk: Any) -> ImageLibrary:
    return library_list(tenant=tenant).get_for_tenant_or_404(tenant, pk=pk)


def libraries_by_ids(*, tenant: Tenant | int, ids: Sequence[int]) -> list[ImageLibrary]:
    """The tenant's libraries among ``ids`` (unknown or foreign ids are simply absent)."""
    return list(ImageLibrary.objects.for_tenant(tenant).filter(pk__in=list(ids)).order_by("name"))


def image_list(
    *, library: ImageLibrary, status: str | None = None, search: str | None = None
) -> QuerySet[LibraryImage]:
    images = LibraryImage.objects.for_tenant(library.tenant_id).filter(library=library)
    if status:
        images = images.filter(status=status)
    if search:
        images = images.filter(
            Q(original_name__icontains=search)
            | Q(caption__icontains=search)
            | Q(category__icontains=search)
            | Q(subcategory__icontains=search)
        )
    return images.order_by("id")


def image_get(*, tenant: Tenant | int, pk: Any) -> LibraryImage:
    return LibraryImage.objects.select_related("library").get_for_tenant_or_404(tenant, pk=pk)


def job_list(*, library: ImageLibrary) -> QuerySet[IndexJob]:
    return IndexJob.objects.for_tenant(library.tenant_id).filter(library=library).order_by("-id")


def job_get(*, tenant: Tenant | int, pk: Any) -> IndexJob:
    return IndexJob.objects.get_for_tenant_or_404(tenant, pk=pk)


def session_list(*, user: Any) -> QuerySet[SearchSession]:
    return (
        SearchSession.objects.for_tenant(user.tenant_id)
        .filter(user=user)
        .annotate(query_count=Count("queries"))
        .order_by("-updated_at", "-id")
        .prefetch_related(
            Prefetch("queries", queryset=SketchQuery.objects.order_by("-id"), to_attr="recent")
        )
    )


def session_get(*, user: Any, pk: Any) -> SearchSession:
    return (
        SearchSession.objects.for_tenant(user.tenant_id)
        .filter(user=user)
        .get_for_tenant_or_404(user.tenant_id, pk=pk)
    )


def session_queries(*, session: SearchSession) -> QuerySet[SketchQuery]:
    return (
        SketchQuery.objects.for_tenant(session.tenant_id)
        .filter(session=session)
        .select_related("source_image")
        .prefetch_related("libraries", _results_prefetch())
        .order_by("-id")
    )


def _results_prefetch() -> Prefetch:
    return Prefetch(
        "results",
        queryset=SearchResult.objects.select_related("image").order_by("rank"),
        to_attr="ordered_results",
    )


def query_get(*, user: Any, pk: Any, with_results: bool = True) -> SketchQuery:
    queries = SketchQuery.objects.for_tenant(user.tenant_id).filter(user=user)
    if with_results:
        queries = queries.select_related("session", "source_image__library").prefetch_related(
            "libraries", _results_prefetch()
        )
    return queries.get_for_tenant_or_404(user.tenant_id, pk=pk)


# --- general candidates from the served indexes --------------------------------------------


def stored_vectors(*, tenant_id: int, image_ids: Sequence[int]) -> dict[int, np.ndarray]:
    """General vectors of the tenant's photos ``image_ids`` as their served indexes hold
    them (photos not indexed, or of another tenant, are left out)."""
    # Plain (id, library) pairs: building 200 model instances cost ~30 ms a search.
    pairs = (
        LibraryImage.objects.for_tenant(tenant_id)
        .filter(pk__in=[int(i) for i in image_ids])
        .values_list("pk", "library_id")
    )
    ids_of: dict[int, list[int]] = {}
    for image_id, library_id in pairs:
        ids_of.setdefault(library_id, []).append(image_id)
    libraries = ImageLibrary.objects.for_tenant(tenant_id).filter(pk__in=list(ids_of))
    by_library = {library.pk: (library, ids_of[library.pk]) for library in libraries}
    out: dict[int, np.ndarray] = {}
    for library, ids in by_library.values():
        if not library.index_file:
            continue  # not indexed (yet): no stored vectors
        index = _served(library)
        # One read of the index's ids (``i in index`` reads them all for every i).
        present = np.asarray(ids, np.int64)[np.isin(ids, index.ids())].tolist()
        if present:
            out.update(zip(present, index.vectors(present), strict=True))
    return out


def _served(library: ImageLibrary) -> Any:
    try:
        return index_store.served_index(library)
    except FileNotFoundError:
        # The pointer moved after we read it and the old file is gone: read it again.
        library.refresh_from_db(fields=["index_file", "model_version", "index_size"])
        return index_store.served_index(library)


def general_candidates(
    *, libraries: Sequence[ImageLibrary], vector: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest photos over all ``libraries`` as (ids int64, distances float32).

    Each library's index is searched on its own and the answers merged by distance (every
    index holds vectors of the same model version: the caller checked). Ids whose photo was
    deleted since the index was written are dropped.
    """
    ids, distances, _ = _nearest_over(libraries, vector, k)
    return ids, distances


def _nearest_over(
    libraries: Sequence[ImageLibrary], vector: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """:func:`general_candidates` plus, per id, the served index that answered it."""
    found_ids, found_dist, found_in = [], [], []
    for library in libraries:
        index = _served(library)
        if len(index) == 0:
            continue
        distances, ids = index.search(np.asarray(vector, dtype=np.float32), k)
        distances, ids = np.asarray(distances).reshape(-1), np.asarray(ids).reshape(-1)
        keep = ids >= 0  # FAISS pads with -1 when an index holds fewer than k vectors
        found_ids.append(ids[keep].astype(np.int64))
        found_dist.append(distances[keep].astype(np.float32))
        found_in += [index] * int(keep.sum())
    if not found_ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), []
    ids = np.concatenate(found_ids)
    distances = np.concatenate(found_dist)
    order = np.argsort(distances, kind="stable")[:k]
    ids, distances = ids[order], distances[order]
    indexes = [found_in[i] for i in order.tolist()]
    tenant_id = libraries[0].tenant_id
    alive = set(
        LibraryImage.objects.for_tenant(tenant_id)
        .filter(pk__in=ids.tolist(), library__in=[lib.pk for lib in libraries])
        .values_list("pk", flat=True)
    )
    keep = [int(i) in alive for i in ids]
    mask = np.array(keep, dtype=bool)
    return ids[mask], distances[mask], [ix for ix, kept in zip(indexes, keep, strict=True) if kept]


def expanded_query(
    *, libraries: Sequence[ImageLibrary], vector: np.ndarray, neighbours: int
) -> np.ndarray:
    """``vector`` re-asked as the mean of itself and its ``neighbours`` nearest photos over
    ``libraries`` (average query expansion, :mod:`retrieval.engine.query_expansion`); the
    vector itself when ``neighbours`` is 0 or no library holds a photo."""
    from retrieval.engine.query_expansion import expand

    query = np.asarray(vector, dtype=np.float32).reshape(-1)
    if neighbours <= 0 or not libraries:
        return query
    ids, _, indexes = _nearest_over(libraries, query, neighbours)
    if not len(ids):
        return query
    # Read from the index that answered each id: no second lookup of their libraries.
    found = [
        index.vectors(np.array([i], dtype=np.int64))[0]
        for i, index in zip(ids.tolist(), indexes, strict=True)
    ]
    return expand(query[None], np.stack(found)[None])[0]


# --- what the index holds for one photo (more like this, why this result) ------------------


def image_vector(*, image: LibraryImage) -> np.ndarray | None:
    """The photo's general vector as its library's served index holds it (no forward pass);
    None when the library has no index or the photo is not in it (not indexed yet)."""
    library = image.library
    if not library.index_file:
        return None
    try:
        return _served(library).vectors(np.array([image.pk], dtype=np.int64))[0]
    except (KeyError, FileNotFoundError):
        return None


def image_trunk_map(*, image: LibraryImage, model_version: str) -> np.ndarray | None:
    """The photo's cached trunk map (float16) of ``model_version``; None when not cached."""
    store = index_store.feature_store(image.library, model_version)
    wanted = np.array([image.pk], dtype=np.int64)
    if not np.isin(wanted, store.ids()).all():
        return None
    return store.get(wanted)[0]


def result_get(*, user: Any, pk: Any) -> SearchResult:
    """One result of one of ``user``'s own queries (a colleague's is a 404 too)."""
    return (
        SearchResult.objects.for_tenant(user.tenant_id)
        .filter(query__user=user)
        .select_related("query", "query__source_image", "image")
        .get_for_tenant_or_404(user.tenant_id, pk=pk)
    )


def image_index_entry(*, image: LibraryImage) -> dict[str, Any]:
    """What the served index and the trunk-map cache hold for one photo (admins' check)."""
    library = image.library
    version = library.model_version
    vector = image_vector(image=image) if version else None
    trunk_map = image_trunk_map(image=image, model_version=version) if version else None
    entry: dict[str, Any] = {
        "image_id": image.pk,
        "status": image.status,
        "image_model_version": image.model_version,
        "library_model_version": version,
        "index_size": library.index_size,
        "in_index": vector is not None,
        "vector_norm": None,
        "vector_preview": [],
        "trunk_map_cached": trunk_map is not None,
        "trunk_map_shape": [],
        "trunk_map_mean": None,
        "trunk_map_max": None,
        "has_edge_map": bool(image.edge_map),
    }
    if vector is not None:
        entry["vector_norm"] = float(np.linalg.norm(vector))
        entry["vector_preview"] = [round(float(v), 4) for v in vector[:8]]
    if trunk_map is not None:
        values = np.asarray(trunk_map, dtype=np.float32)
        entry["trunk_map_shape"] = list(values.shape)
        entry["trunk_map_mean"] = float(values.mean())
        entry["trunk_map_max"] = float(values.max())
    return entry


def images_by_ids(*, tenant: Tenant | int, ids: Sequence[int]) -> dict[int, LibraryImage]:
    """The tenant's photos among ``ids``, by id (unknown or foreign ids are absent)."""
    return {image.pk: image for image in LibraryImage.objects.for_tenant(tenant).filter(pk__in=ids)}


# --- browsing a library (members see what a library holds) --------------------------------


def library_browse_list(*, tenant: Tenant | int) -> QuerySet[ImageLibrary]:
    """The tenant's libraries with how many searchable photos and categories each holds."""
    indexed = Q(images__status=LibraryImage.Status.INDEXED)
    return (
        ImageLibrary.objects.for_tenant(tenant)
        .annotate(
            indexed_count=Count("images", filter=indexed, distinct=True),
            category_count=Count(
                "images__category", filter=indexed & ~Q(images__category=""), distinct=True
            ),
        )
        .order_by("name")
    )


def library_browse_images(
    *, library: ImageLibrary, category: str | None = None, unlabelled: bool = False
) -> QuerySet[LibraryImage]:
    """The photos of ``library`` a search can return (indexed ones), in one category when
    ``category`` is given, or without one when ``unlabelled``."""
    images = LibraryImage.objects.for_tenant(library.tenant_id).filter(
        library=library, status=LibraryImage.Status.INDEXED
    )
    if unlabelled:
        images = images.filter(category="")
    elif category:
        images = images.filter(category=category)
    return images.order_by("category", "id")


def library_category_counts(*, library: ImageLibrary) -> list[tuple[str, int]]:
    """(category, indexed photos) of ``library`` by category name; "" counts the unlabelled."""
    rows = (
        LibraryImage.objects.for_tenant(library.tenant_id)
        .filter(library=library, status=LibraryImage.Status.INDEXED)
        .values_list("category")
        .annotate(n=Count("id"))
        .order_by("category")
    )
    return [(category, n) for category, n in rows]
