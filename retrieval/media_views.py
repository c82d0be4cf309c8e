"""Photos, thumbnails, edge maps and sketches, served only to members of the owning tenant.

There is no public media URL: every file is looked up through the caller's tenant (and, for
sketches, the caller), so another organisation's id is a 404 like a missing one, and stored
file names are random so they reveal nothing either. Session (browser ``<img>``) and token
(scripts following the API's ``photo_url``) authentication both work.
"""

from __future__ import annotations

import mimetypes

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.permissions import IsTenantMember
from retrieval import selectors

_FILE_SCHEMA = extend_schema(
    tags=["media"],
    responses={(200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY), 404: None},
)


def _serve(field_file: FieldFile) -> FileResponse:
    if not field_file:
        raise Http404("No such file.")
    try:
        handle = field_file.storage.open(field_file.name, "rb")
    except FileNotFoundError:
        raise Http404("No such file.") from None
    content_type = mimetypes.guess_type(field_file.name)[0] or "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    # Private: a shared cache must never hand one tenant's photo to another's browser.
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


class _MediaView(APIView):
    permission_classes = [IsTenantMember]


class ImagePhotoView(_MediaView):
    @_FILE_SCHEMA
    def get(self, request: Request, pk: int) -> FileResponse:
        return _serve(selectors.image_get(tenant=request.user.tenant_id, pk=pk).photo)


class ImageThumbView(_MediaView):
    @_FILE_SCHEMA
    def get(self, request: Request, pk: int) -> FileResponse:
        image = selectors.image_get(tenant=request.user.tenant_id, pk=pk)
        return _serve(image.thumbnail or image.photo)


class ImageEdgesView(_MediaView):
    @_FILE_SCHEMA
    def get(self, request: Request, pk: int) -> FileResponse:
        return _serve(selectors.image_get(tenant=request.user.tenant_id, pk=pk).edge_map)


class QuerySketchView(_MediaView):
    @_FILE_SCHEMA
    def get(self, request: Request, pk: int) -> FileResponse:
        query = selectors.query_get(user=request.user, pk=pk, with_results=False)
        return _serve(query.sketch_image)
