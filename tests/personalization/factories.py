"""Building personalization test data without the real engine.

A library's photos get synthetic conv5 maps (personalization.lab.synthetic) stored in a
real FeatureStore where retrieval looks for them; a query stores a sketch's conv5 map and
ranked results, as retrieval's search service does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import numpy as np

from personalization import head_files
from personalization.lab.synthetic import SyntheticLibrary
from personalization.models import Feedback, PersonalHead
from retrieval import index_store
from retrieval.models import ImageLibrary, LibraryImage, SearchResult, SearchSession, SketchQuery

MODEL_VERSION = "g1-test0001"
# The general vector stored with a factory query unless told otherwise (512-d, unit): searches
# asked with it are as close as can be to every such query (closeness 1).
QUERY_VECTOR = np.eye(1, 512, dtype=np.float32)[0]


def asked(
    features: np.ndarray | None,
    *,
    vector: np.ndarray | None = None,
    kind: str = "sketch",
    version: str = MODEL_VERSION,
) -> Any:
    """A query as search asks it (personalization.ranking.AskedQuery)."""
    from personalization.ranking import AskedQuery

    return AskedQuery(
        vector=QUERY_VECTOR if vector is None else np.asarray(vector, np.float32),
        kind=kind,
        features=features,
        model_version=version,
    )


def closeness_file(directory: Any, *versions: str) -> str:
    """A closeness file holding the shipped model's measured rule, and the same bands for
    each of ``versions`` (test engines' model versions); set it as PSBIR_CLOSENESS_FILE."""
    from personalization.engine.closeness import (
        CALIBRATION_PATH,
        ClosenessRule,
        load_rules,
        save_rule,
    )

    shipped = next(iter(load_rules(CALIBRATION_PATH).values()))
    path = Path(directory) / "closeness.json"
    save_rule(shipped, path)
    for version in versions:
        save_rule(ClosenessRule(bands=shipped.bands, head=version), path)
    return str(path)


def teach(user: Any, library: ImageLibrary, images: Sequence[LibraryImage], **kwargs: Any) -> Any:
    """A query (vector :data:`QUERY_VECTOR` unless given) whose first result the user marked:
    feedback that later searches asked with the same vector are close to."""
    query, results = make_query(user, [library], None, images, **kwargs)
    mark(user, results[0])
    return query


_n = count(1)


def make_library(tenant: Any, *, name: str | None = None, version: str = MODEL_VERSION):
    return ImageLibrary.objects.create(
        tenant=tenant, name=name or f"{tenant.slug} library {next(_n)}", model_version=version
    )


def add_images(
    library: ImageLibrary,
    maps: np.ndarray,
    labels: Sequence[tuple[str, str]],
    *,
    store_features: bool = True,
) -> list[LibraryImage]:
    """Indexed photos with ``labels`` (category, subcategory) and trunk ``maps``."""
    images = [
        LibraryImage.objects.create(
            tenant_id=library.tenant_id,
            library=library,
            photo=f"p/{next(_n)}.png",
            original_name=f"{library.tenant.slug}-photo-{next(_n)}",
            category=category,
            subcategory=subcategory,
            status=LibraryImage.Status.INDEXED,
            model_version=library.model_version,
        )
        for category, subcategory in labels
    ]
    if store_features:
        store = index_store.feature_store(library, library.model_version)
        store.put(np.array([im.pk for im in images], dtype=np.int64), maps.astype(np.float16))
    return images


def synthetic_library(
    tenant: Any, lib: SyntheticLibrary, *, labelled: bool = True
) -> tuple[ImageLibrary, list[LibraryImage]]:
    """A library holding every photo of ``lib``, labelled parent-<p> / sub-<s>."""
    library = make_library(tenant)
    labels = [
        (f"parent-{p}", f"sub-{s}") if labelled else ("", "")
        for p, s in zip(lib.parent_of, lib.sub_of, strict=True)
    ]
    images = add_images(library, lib.photo_maps(np.arange(lib.size)), labels)
    return library, images


def make_query(
    user: Any,
    libraries: Sequence[ImageLibrary],
    sketch_map: np.ndarray | None,
    ranked_images: Sequence[LibraryImage],
    *,
    version: str = MODEL_VERSION,
    vector: np.ndarray | None = None,
    session: SearchSession | None = None,
) -> tuple[SketchQuery, list[SearchResult]]:
    """A stored query with its ranked results; ``vector`` (default :data:`QUERY_VECTOR`) is
    what closeness compares later searches with."""
    session = session or SearchSession.objects.create(tenant_id=user.tenant_id, user=user)
    vector = QUERY_VECTOR if vector is None else np.asarray(vector, np.float32)
    query = SketchQuery.objects.create(
        tenant_id=user.tenant_id,
        session=session,
        user=user,
        features=None if sketch_map is None else np.asarray(sketch_map, np.float16).tobytes(),
        vector=np.asarray(vector, np.float32).tobytes(),
        model_version=version,
    )
    query.libraries.set(libraries)
    results = [
        SearchResult.objects.create(
            tenant_id=user.tenant_id,
            query=query,
            image=image,
            rank=rank,
            distance=float(rank),
            general_distance=float(rank),
        )
        for rank, image in enumerate(ranked_images, start=1)
    ]
    return query, results


def mark(user: Any, result: SearchResult) -> Feedback:
    return Feedback.objects.create(
        tenant_id=user.tenant_id,
        user=user,
        query=result.query,
        result=result,
        kind=Feedback.Kind.MATCH,
    )


def make_head(
    user: Any,
    *,
    version: int | None = None,
    active: bool = True,
    status: str = PersonalHead.Status.READY,
    head: Any = None,
    model_version: str = MODEL_VERSION,
    feedback_watermark: int = 2**62,
) -> PersonalHead:
    """A head row; with ``head`` (a Conv6Head) its file is written too. By default it counts
    as trained on every mark, past and future (``feedback_watermark``): searches close to
    any of the user's feedback use it."""
    if version is None:
        version = (
            PersonalHead.objects.filter(user=user)
            .order_by("-version")
            .values_list("version", flat=True)
            .first()
            or 0
        ) + 1
    row = PersonalHead.objects.create(
        tenant_id=user.tenant_id,
        user=user,
        version=version,
        status=status,
        is_active=active,
        model_version=model_version,
        loss_curve=[5.0, 3.0, 2.0],
        feedback_watermark=feedback_watermark,
    )
    if head is not None:
        row.file_path = head_files.relative_path(
            tenant_id=user.tenant_id, user_id=user.pk, version=version
        )
        head_files.save(head, relative=row.file_path, metadata={"test": True})
        row.save(update_fields=["file_path"])
    return row


@dataclass
class RandomLibrary:
    library: ImageLibrary
    images: list[LibraryImage]
    ids: np.ndarray  # the photos' ids, in order
    maps: np.ndarray  # their trunk maps (VGG-shaped, 512x8x8), float32 as drawn
    vectors: np.ndarray | None  # their general vectors, served as the index (or None)


def random_library(
    tenant: Any, size: int, rng: np.random.Generator, *, index: bool = True
) -> RandomLibrary:
    """``size`` indexed photos of one label with random trunk maps; with ``index``, random
    general vectors served by the library's vector store (drawn after the maps)."""
    library = make_library(tenant)
    maps = (rng.random((size, 512, 8, 8)) * 20).astype(np.float32)
    images = add_images(library, maps, [("c", "s")] * size)
    vectors = None
    ids = np.array([im.pk for im in images], dtype=np.int64)
    if index:
        drawn = rng.normal(size=(size, 512)).astype(np.float32)
        write_general_index(library, images, drawn)
        # As the store serves them (pgvector keeps half precision): what searches compare.
        from tests.searching import served_vectors

        served_ids, served = served_vectors(library)
        by_id = dict(zip(served_ids.tolist(), served, strict=True))
        vectors = np.stack([by_id[i] for i in ids.tolist()])
    return RandomLibrary(library, images, ids, maps, vectors)


def write_general_index(library: ImageLibrary, images: Sequence[LibraryImage], vectors) -> None:
    """Serve ``vectors`` (general descriptors of ``images``) from the library's vector store."""
    from retrieval.services.indexing import index_replace

    index_replace(
        library=library,
        image_ids=np.array([im.pk for im in images], dtype=np.int64),
        vectors=np.asarray(vectors, np.float32),
        model_version=library.model_version,
    )
