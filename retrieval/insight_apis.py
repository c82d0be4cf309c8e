"""REST endpoints that explain results: before / after, why this result, a photo's index entry.

Like every endpoint, each fetches its object through the caller's tenant (queries and results
also through the caller): another organisation's id, or a colleague's query, is a 404.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.permissions import IsTenantAdmin, IsTenantMember
from retrieval import selectors
from retrieval.insight_serializers import (
    ComparisonSerializer,
    IndexEntrySerializer,
    ResultWhySerializer,
)
from retrieval.services import compare, search

TAG_SEARCH = "search"


class QueryCompareApi(APIView):
    permission_classes = [IsTenantMember]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "search"

    @extend_schema(
        tags=[TAG_SEARCH],
        responses={
            200: ComparisonSerializer,
            404: OpenApiResponse(description="Not one of your queries."),
            409: OpenApiResponse(description="None of the query's libraries can be searched."),
            503: OpenApiResponse(description="The model is not installed."),
        },
        description="Before / after: re-run one of your stored queries with today's model, "
        "general (w = 0) and personalized at your w, beside the results it stored; every "
        "photo you marked on it is followed through the three lists. Nothing is stored.",
    )
    def get(self, request: Request, pk: int) -> Response:
        from retrieval.engine.errors import ModelNotReadyError, WeightsMissingError

        query = selectors.query_get(user=request.user, pk=pk)
        try:
            comparison = compare.query_compare(user=request.user, query=query)
        except search.SearchUnavailable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except (WeightsMissingError, ModelNotReadyError) as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(ComparisonSerializer(comparison).data)


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
