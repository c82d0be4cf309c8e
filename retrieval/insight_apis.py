"""REST endpoints that explain results: why this result, a photo's index entry (before /
after, ``/api/queries/<id>/compare/``, is personalization.search_apis).

Like every endpoint, each fetches its object through the caller's tenant (queries and results
also through the caller): another organisation's id, or a colleague's query, is a 404.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsTenantAdmin, IsTenantMember
from retrieval import selectors
from retrieval.insight_serializers import IndexEntrySerializer, ResultWhySerializer

TAG_SEARCH = "search"


class ResultWhyApi(APIView):
    permission_classes = [IsTenantMember]

    @extend_schema(
        tags=[TAG_SEARCH],
        responses={
            200: ResultWhySerializer,
            404: OpenApiResponse(description="Not a result of one of your queries."),
        },
        description="Why this result: the general and personal distances it was ranked by, "
        "w, and what to overlay on the photo (the query's strokes and binarised sketch, in "
        "the photo's square frame; its edge map where the model uses one).",
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(ResultWhySerializer(selectors.result_get(user=request.user, pk=pk)).data)


class ImageIndexEntryApi(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(
        tags=["libraries"],
        responses={
            200: IndexEntrySerializer,
            404: OpenApiResponse(description="Not a photo of your organisation."),
        },
        description="What the served index and the trunk-map cache hold for one photo.",
    )
    def get(self, request: Request, pk: int) -> Response:
        image = selectors.image_get(tenant=request.user.tenant_id, pk=pk)
        return Response(IndexEntrySerializer(selectors.image_index_entry(image=image)).data)
