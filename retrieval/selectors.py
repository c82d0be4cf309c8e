"""Reads of libraries, photos, jobs, sessions and queries. Every lookup names the tenant.

Sessions, queries and results also name the user: they are a person's own history, so a
colleague in the same organisation gets the same 404 as a stranger.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db.models import Count, Prefetch, Q, QuerySet

from accounts.models import Tenant
from retrieval import index_store, vector_stores
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


def query_list(*, user: Any, ids: Sequence[int]) -> QuerySet[SketchQuery]:
    """``user``'s own queries among ``ids``, with the libraries each searched."""
    return (
        SketchQuery.objects.for_tenant(user.tenant_id)
        .filter(user=user, pk__in=list(ids))
        .prefetch_related("libraries")
    )


def existing_query_ids(*, tenant: Tenant | int, user_id: int, ids: Sequence[int]) -> set[int]:
    """Those of ``ids`` that are still queries of user ``user_id`` (in ``tenant``)."""
    return set(
        SketchQuery.objects.for_tenant(tenant)
        .filter(user_id=user_id, pk__in=list(ids))
        .values_list("pk", flat=True)
    )


def query_trunk_map(*, query: SketchQuery) -> np.ndarray | None:
    """The query's stored float16 trunk map (its length names the trunk's map shape); None
    when it kept none, or one of no known trunk."""
    from retrieval.engine.trunks import map_shape_for_bytes

    raw = bytes(query.features) if query.features is not None else b""
    shape = map_shape_for_bytes(len(raw))
    if shape is None:
        return None
    return np.frombuffer(raw, dtype=np.float16).reshape(shape)


# --- general candidates from the served indexes --------------------------------------------


def stored_vectors(*, tenant_id: int, image_ids: Sequence[int]) -> dict[int, np.ndarray]:
    """General vectors of the tenant's photos ``image_ids`` as the vector store serves them
    (photos not indexed, or of another tenant, are left out)."""
    # The libraries only (one query): the store finds each photo in its own.
    libraries = list(
        ImageLibrary.objects.for_tenant(tenant_id)
        .filter(images__pk__in=[int(i) for i in image_ids])
        .distinct()
    )
    return vector_stores.active_store().vectors(libraries, image_ids)


def cached_trunk_maps(
    *, tenant_id: int, model_version: str, image_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """float32 trunk maps of the tenant's photos ``image_ids`` cached under
    ``model_version`` (rows where ``found``), and ``found`` (N,) bool: what a personal head
    re-scores. Photos of another tenant or version, or without a cached map, are not found."""
    image_ids = np.asarray(image_ids, np.int64)
    library_of, libraries = _libraries_at(tenant_id, model_version, image_ids)
    return _read_cached_maps(
        image_ids,
        library_of,
        lambda library_id: index_store.shared_feature_store(libraries[library_id], model_version),
    )


def _libraries_at(
    tenant_id: int, model_version: str, image_ids: np.ndarray
) -> tuple[dict[int, int], dict[int, ImageLibrary]]:
    """(photo id -> library id, library id -> library) of the tenant's photos ``image_ids``
    whose library serves ``model_version``."""
    rows = (
        LibraryImage.objects.for_tenant(tenant_id)
        .filter(pk__in=image_ids.tolist(), library__model_version=model_version)
        .select_related("library")
        .only("id", "library__id", "library__tenant_id", "library__model_version")
    )
    library_of = {row.pk: row.library_id for row in rows}
    return library_of, {row.library_id: row.library for row in rows}


def cached_pooled_features(
    *, tenant_id: int, model_version: str, image_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """float32 (found, 1280) pooled features of the general head (the part a personal
    projection head shares) of the tenant's photos ``image_ids`` under ``model_version``, and
    ``found`` (N,) bool, as :func:`cached_trunk_maps` (photos indexed before pooled features
    were kept are not found: their maps are)."""
    image_ids = np.asarray(image_ids, np.int64)
    library_of, libraries = _libraries_at(tenant_id, model_version, image_ids)
    pooled, found = _read_cached_maps(
        image_ids,
        library_of,
        lambda library_id: index_store.shared_pooled_store(libraries[library_id], model_version),
    )
    if not found.any():  # none kept (indexed before pooled features were): no rows at all
        return np.zeros((0, 0), dtype=np.float32), found
    return pooled.reshape(len(pooled), -1), found


def _read_cached_maps(
    ids: np.ndarray, library_of: dict[int, int], store_of: Callable[[int], Any]
) -> tuple[np.ndarray, np.ndarray]:
    """float32 trunk maps of the ``ids`` found in their library's store (``library_of``: id
    -> library id; ``store_of``: library id -> its FeatureStore), in the order of ``ids``,
    and ``found`` (N,) bool. Ids of no listed library, or not in its store, are not found."""
    by_library: dict[int, list[int]] = defaultdict(list)
    for position, image_id in enumerate(ids.tolist()):
        if image_id in library_of:
            by_library[library_of[image_id]].append(position)
    found = np.zeros(len(ids), dtype=bool)
    maps: np.ndarray | None = None
    for library_id, positions in by_library.items():
        store = store_of(library_id)
        present = np.isin(ids[positions], store.ids())
        keep = [p for p, ok in zip(positions, present, strict=True) if ok]
        if keep:
            got = store.get(ids[keep])
            if maps is None:  # the general model's map shape, as the store holds it
                maps = np.zeros((len(ids), *got.shape[1:]), dtype=np.float32)
            maps[keep] = got
            found[keep] = True
    if maps is None:
        return np.zeros((0, 0, 0, 0), dtype=np.float32), found
    return maps[found], found


@dataclass(frozen=True)
class GeneralCandidates:
    """The served indexes' answer to a query: the vector they were asked (the query's,
    expanded with its nearest photos) and the photos nearest to it, nearest first."""

    vector: np.ndarray  # float32 (D,)
    ids: np.ndarray  # int64
    distances: np.ndarray  # float32, ascending

    @property
    def best_distance(self) -> float | None:
        return float(self.distances.min()) if len(self.distances) else None


def general_candidates(
    *,
    libraries: Sequence[ImageLibrary],
    vector: np.ndarray,
    k: int,
    neighbours: int = 0,
    exclude: Sequence[int] = (),
) -> GeneralCandidates:
    """The ``k`` nearest photos over ``libraries`` to ``vector`` re-asked as the mean of
    itself and its ``neighbours`` nearest photos (average query expansion,
    :mod:`retrieval.engine.query_expansion`; 0: ``vector`` as it is), ``exclude`` left out.

    The vector store answers over all the libraries at once (FAISS: each library's index
    searched and the answers merged by distance; pgvector: one SQL query); every library
    holds vectors of the same model version: the caller checked. With expansion the store is
    asked twice, as the method is: the expanded vector only exists once the first answer is
    in. Only photos that still exist are returned.
    """
    from retrieval.engine.query_expansion import expand

    libraries = list(libraries)
    store = vector_stores.active_store()
    query = np.asarray(vector, dtype=np.float32).reshape(-1)
    if neighbours > 0 and libraries:
        nearest = store.nearest(libraries, query, neighbours)
        found = store.vectors(libraries, nearest.ids.tolist())
        rows = [found[i] for i in nearest.ids.tolist() if i in found]
        if rows:
            query = expand(query[None], np.stack(rows)[None])[0]
    nearest = store.nearest(libraries, query, k + len(exclude)) if libraries else None
    if nearest is None:
        return GeneralCandidates(
            vector=query, ids=np.zeros(0, np.int64), distances=np.zeros(0, np.float32)
        )
    ids, distances = nearest.ids, nearest.distances
    if len(exclude):
        keep = ~np.isin(ids, np.asarray(exclude, dtype=np.int64))
        ids, distances = ids[keep], distances[keep]
    return GeneralCandidates(vector=query, ids=ids, distances=distances)


# --- what the index holds for one photo (more like this, why this result) ------------------


def image_vector(*, image: LibraryImage) -> np.ndarray | None:
    """The photo's general vector as the vector store serves it (no forward pass); None
    when its library has none or the photo is not among them (not indexed yet)."""
    return vector_stores.active_store().vectors([image.library], [image.pk]).get(image.pk)


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


# --- the features of a library's photos (what personal training reads) --------------------


class IndexUnavailable(LookupError):
    """A library's served index cannot give the vectors asked for (being re-indexed)."""

    def __init__(self, library: ImageLibrary) -> None:
        super().__init__(f"library {library.pk} has no served index holding these photos")
        self.library = library


@dataclass(frozen=True)
class PhotoFeatures:
    """The indexed photos of some libraries whose trunk maps are cached under one model
    version, with their labels (stripped; "" unlabelled); their trunk maps and general
    vectors on demand. Made by :func:`photo_features`."""

    model_version: str
    ids: np.ndarray  # int64, ascending
    categories: np.ndarray  # str, aligned with ids
    subcategories: np.ndarray
    libraries: tuple[ImageLibrary, ...]
    library_ids: np.ndarray  # int64, each photo's library, aligned with ids

    def of_libraries(self, library_ids: Sequence[int]) -> PhotoFeatures:
        """The photos of ``library_ids`` only (a subset of these libraries)."""
        wanted = {int(i) for i in library_ids}
        keep = np.isin(self.library_ids, np.asarray(sorted(wanted), dtype=np.int64))
        return PhotoFeatures(
            model_version=self.model_version,
            ids=self.ids[keep],
            categories=self.categories[keep],
            subcategories=self.subcategories[keep],
            libraries=tuple(lib for lib in self.libraries if lib.pk in wanted),
            library_ids=self.library_ids[keep],
        )

    def _rows_by_library(self, ids: np.ndarray) -> dict[int, list[int]]:
        library_of = dict(zip(self.ids.tolist(), self.library_ids.tolist(), strict=True))
        rows: dict[int, list[int]] = defaultdict(list)
        for row, image_id in enumerate(np.asarray(ids, dtype=np.int64).tolist()):
            rows[library_of[image_id]].append(row)
        return rows

    def trunk_maps(self, ids: np.ndarray) -> np.ndarray:
        """float16 (N, C, H, W) cached trunk maps of ``ids`` (photos of these), in order;
        ``KeyError`` naming the ids that are not."""
        ids = np.asarray(ids, dtype=np.int64)
        by_id = {lib.pk: lib for lib in self.libraries}
        maps, found = _read_cached_maps(
            ids,
            dict(zip(self.ids.tolist(), self.library_ids.tolist(), strict=True)),
            lambda library_id: index_store.shared_feature_store(
                by_id[library_id], self.model_version
            ),
        )
        if not found.all():
            raise KeyError(f"no cached trunk map for photos {ids[~found].tolist()}")
        return maps.astype(np.float16)

    def general_vectors(self) -> np.ndarray:
        """float32 (N, 512) general vectors of all these photos, as the served indexes hold
        them; :class:`IndexUnavailable` when a library's index does not (being re-indexed)."""
        out = np.zeros((len(self.ids), 512), dtype=np.float32)
        rows_of = self._rows_by_library(self.ids)
        store = vector_stores.active_store()
        for library in self.libraries:
            rows = rows_of.get(library.pk)
            if rows:
                found = store.vectors([library], self.ids[rows].tolist())
                if len(found) != len(rows):
                    raise IndexUnavailable(library)
                out[rows] = np.stack([found[int(i)] for i in self.ids[rows]])
        return out


def photo_features(*, libraries: Sequence[ImageLibrary], model_version: str) -> PhotoFeatures:
    """The photos of ``libraries`` (one tenant's) indexed under ``model_version`` whose trunk
    maps are cached: the one read of library features personal training makes."""
    libraries = list(libraries)
    if not libraries:
        empty = np.zeros(0, dtype=np.int64)
        return PhotoFeatures(model_version, empty, empty.astype(str), empty.astype(str), (), empty)
    rows = list(
        LibraryImage.objects.for_tenant(libraries[0].tenant_id)
        .filter(
            library__in=libraries,
            status=LibraryImage.Status.INDEXED,
            model_version=model_version,
        )
        .order_by("id")
        .values_list("id", "library_id", "category", "subcategory")
    )
    cached: dict[int, set[int]] = {
        lib.pk: set(index_store.feature_store(lib, model_version).ids().tolist())
        for lib in libraries
    }
    rows = [row for row in rows if row[0] in cached[row[1]]]
    return PhotoFeatures(
        model_version=model_version,
        ids=np.array([r[0] for r in rows], dtype=np.int64),
        categories=np.array([r[2].strip() for r in rows], dtype=object).astype(str),
        subcategories=np.array([r[3].strip() for r in rows], dtype=object).astype(str),
        libraries=tuple(libraries),
        library_ids=np.array([r[1] for r in rows], dtype=np.int64),
    )
