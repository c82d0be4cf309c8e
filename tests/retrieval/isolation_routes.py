"""Isolation-matrix registrations for the retrieval app (pages, media and /api/)."""

from __future__ import annotations

from itertools import count
from typing import Any

import numpy as np
from django.core.files.base import ContentFile

from accounts.models import Tenant
from retrieval import photos
from retrieval.models import (
    ImageLibrary,
    IndexJob,
    LibraryImage,
    SearchResult,
    SearchSession,
    SketchQuery,
)
from retrieval.services import images as image_services
from retrieval.services.libraries import library_create
from tests.isolation import register_collection_route, register_object_route
from tests.retrieval.fakes import shape_png

_n = count(1)


def make_library(tenant: Tenant, user: Any = None) -> ImageLibrary:
    return library_create(tenant=tenant, name=f"{tenant.slug} library {next(_n)}")


def make_image(tenant: Tenant, user: Any = None) -> LibraryImage:
    """A stored photo with thumbnail and edge map (no engine needed)."""
    n = next(_n)
    image = image_services.image_add(
        library=make_library(tenant),
        name=f"{tenant.slug}-{n}.png",
        data=shape_png("circle", seed=n % 25),
    )
    edge = photos.png_bytes(np.full((256, 256), 255, np.uint8))
    image.edge_map.save(f"edge-{tenant.slug}-{n}.png", ContentFile(edge), save=False)
    image.status = LibraryImage.Status.INDEXED
    image.save()
    return image


def make_job(tenant: Tenant, user: Any = None) -> IndexJob:
    library = make_library(tenant)
    return IndexJob.objects.create(
        tenant=tenant, library=library, kind=IndexJob.Kind.IMPORT, total=1
    )


def make_session(tenant: Tenant, user: Any) -> SearchSession:
    return SearchSession.objects.create(
        tenant=tenant, user=user, title=f"{tenant.slug} session {next(_n)}"
    )


def make_query(tenant: Tenant, user: Any) -> SketchQuery:
    query = SketchQuery(tenant=tenant, session=make_session(tenant, user), user=user, top_k=5)
    sketch = photos.png_bytes(np.full((256, 256), 255, np.uint8))
    query.sketch_image.save(f"sketch-{tenant.slug}-{next(_n)}.png", ContentFile(sketch), save=False)
    query.save()
    return query


# --- API ---------------------------------------------------------------------------------
register_collection_route("retrieval-api:library-list", factory=make_library)
register_object_route(
    "retrieval-api:library-detail",
    factory=make_library,
    methods=["get", "patch", "delete"],
    role="admin",
    data={"patch": {"name": "renamed library"}},
)
# Upload routes take multipart bodies only; the matrix sends JSON, which the owner gets
# refused as 415 *after* the tenant lookup (outsiders get the 404 first).
for name in ("library-images", "library-zip", "library-labels"):
    register_object_route(
        f"retrieval-api:{name}",
        factory=make_library,
        methods=["get", "post"] if name == "library-images" else ["post"],
        role="admin",
        owner_ok=[415],
    )
register_object_route(
    "retrieval-api:library-reindex", factory=make_library, methods=["post"], role="admin"
)
register_object_route("retrieval-api:library-jobs", factory=make_library, role="admin")
register_object_route("retrieval-api:job-detail", factory=make_job, role="admin")
register_object_route(
    "retrieval-api:image-detail",
    factory=make_image,
    methods=["get", "patch", "delete"],
    role="admin",
    data={"patch": {"category": "relabelled"}},
)
register_collection_route("retrieval-api:session-list", factory=make_session)
register_object_route(
    "retrieval-api:session-detail",
    factory=make_session,
    methods=["get", "patch", "delete"],
    data={"patch": {"title": "renamed session"}},
)
register_object_route("retrieval-api:query-detail", factory=make_query)

# --- Pages -------------------------------------------------------------------------------
register_collection_route("retrieval:search", factory=make_library)
register_collection_route("retrieval:sessions", factory=make_session)
register_object_route("retrieval:session-detail", factory=make_session)
register_object_route(
    "retrieval:session-rename",
    factory=make_session,
    methods=["post"],
    data={"post": {"title": "renamed session"}},
)
# Browsing is for members too: a library's photos are what their searches return.
register_collection_route("retrieval:browse", factory=make_library)
register_object_route("retrieval:library-browse", factory=make_library)
register_collection_route("retrieval:libraries", factory=make_library, role="admin")
register_object_route("retrieval:library-detail", factory=make_library, role="admin")
register_object_route(
    "retrieval:library-edit",
    factory=make_library,
    methods=["post"],
    role="admin",
    data={"post": {"name": "renamed library"}},
)
for name in (
    "library-delete",
    "library-upload",
    "library-upload-zip",
    "library-labels",
    "library-reindex",
):
    register_object_route(f"retrieval:{name}", factory=make_library, methods=["post"], role="admin")
register_object_route("retrieval:image-detail", factory=make_image, role="admin")
register_object_route(
    "retrieval:image-label",
    factory=make_image,
    methods=["post"],
    role="admin",
    data={"post": {"category": "relabelled"}},
)
register_object_route("retrieval:image-delete", factory=make_image, methods=["post"], role="admin")

# --- Media (no public MEDIA_URL: these are the only way to a tenant's files) ---------------
for name in ("image-photo", "image-thumb", "image-edges"):
    register_object_route(f"retrieval:{name}", factory=make_image)
register_object_route("retrieval:query-sketch", factory=make_query)


# --- Insight: why this result, a photo's index entry -----------------------------------
def make_result(tenant: Tenant, user: Any) -> SearchResult:
    return SearchResult.objects.create(
        tenant=tenant,
        query=make_query(tenant, user),
        image=make_image(tenant),
        rank=1,
        distance=0.5,
        general_distance=0.5,
    )


register_object_route("retrieval-api:result-why", factory=make_result)
register_object_route("retrieval-api:image-index-entry", factory=make_image, role="admin")
