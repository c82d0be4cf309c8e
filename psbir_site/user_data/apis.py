"""``/api/me/data/``: the caller's own data, as a zip (GET) or deleted (DELETE)."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsTenantMember
from psbir_site.user_data import services as user_data
from psbir_site.user_data.views import ZIP_TYPE, export_response

TAG = "accounts"


class ZipOrJsonNegotiation(DefaultContentNegotiation):
    """``Accept: application/zip`` is fine here: the zip is not rendered by DRF, and an
    error answers in JSON (the first renderer) instead of a 406."""

    def select_renderer(self, request: Request, renderers: list, format_suffix: Any = None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except exceptions.NotAcceptable:
            return renderers[0], renderers[0].media_type


class DataCountsSerializer(serializers.Serializer):
    sessions = serializers.IntegerField()
    queries = serializers.IntegerField()
    sketches = serializers.IntegerField()
    feedback = serializers.IntegerField()
    heads = serializers.IntegerField()
    head_files = serializers.IntegerField()
    training_jobs = serializers.IntegerField()
    settings = serializers.IntegerField()


class DataDeletedSerializer(serializers.Serializer):
    deleted = DataCountsSerializer(help_text="How many of each kind of row went.")
    detail = serializers.CharField()


_REFUSED = {
    401: OpenApiResponse(description="Not signed in."),
    403: OpenApiResponse(description="The account belongs to no organisation."),
}


class MeDataApi(APIView):
    """Everything of the caller's: download it as one zip, or delete all of it.

    The zip holds the caller's sessions, each query's strokes (JSON) and sketch (PNG) and
    results, their feedback, their personalized heads' history, training jobs and w;
    ``manifest.json`` lists what is inside. DELETE removes all of that (the account stays)
    and the next training no longer sees any of it. Both are recorded in the admin log.
    """

    permission_classes = [IsTenantMember]
    content_negotiation_class = ZipOrJsonNegotiation

    @extend_schema(
        tags=[TAG],
        operation_id="me_data_export",
        responses={
            (200, ZIP_TYPE): OpenApiResponse(
                OpenApiTypes.BINARY, description="A zip of all the caller's data."
            ),
            **_REFUSED,
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        return export_response(request)

    @extend_schema(
        tags=[TAG],
        operation_id="me_data_delete",
        request=None,
        responses={(200, "application/json"): DataDeletedSerializer, **_REFUSED},
    )
    def delete(self, request: Request) -> Response:
        summary = user_data.user_data_delete(user=request.user, actor=request.user)
        body = {"deleted": summary.counts(), "detail": f"Deleted: {summary.describe()}."}
        return Response(DataDeletedSerializer(body).data)
