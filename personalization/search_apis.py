"""REST endpoints of the search a user runs: ``/api/search/`` and before / after
(``/api/queries/<id>/compare/``).

They compose retrieval's general search with the user's personal ranking, so they live on
personalization's floor; their URL names stay in retrieval's namespace
(``retrieval-api:search``, ``retrieval-api:query-compare``; personalization.search_urls).
Objects are fetched through the caller's tenant (queries and sessions also through the
caller): another organisation's id is the same 404 as an id that does not exist.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.permissions import IsTenantMember
from personalization.search_serializers import (
    ComparisonSerializer,
    SearchRequestSerializer,
    SearchResponseSerializer,
)
from personalization.services import compare, search
from retrieval import selectors
from retrieval.services import sessions
from retrieval.services.queries import SearchUnavailable

TAG_SEARCH = "search"


class SearchApi(APIView):
    permission_classes = [IsTenantMember]
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "search"

    @extend_schema(
        tags=[TAG_SEARCH],
        request={
            "application/json": SearchRequestSerializer,
            "multipart/form-data": SearchRequestSerializer,
        },
        responses={
            201: SearchResponseSerializer,
            400: OpenApiResponse(description="Bad sketch, K or w."),
            404: OpenApiResponse(
                description="`image`, `session` or `like_query` is not one of yours."
            ),
            409: OpenApiResponse(
                description="No chosen library can be searched now, or the `image` photo "
                "is not in the current model's index."
            ),
            503: OpenApiResponse(description="The model is not installed."),
        },
        description="Search with a sketch (canvas strokes as JSON, or an image), or with one "
        "of your organisation's library photos (`image`: more like this). The query "
        "and its top-K results are stored in a session: `session` when given, else your most "
        "recent session, or a new one when `new_session` is true or you have none. A "
        "session's automatic title says when it started, what its first search was probably "
        "of and how many searches it holds. `warnings` says when a chosen library was not "
        "searched, and when even the closest photo is far from the drawing (a threshold "
        "measured per model on training sketches). `suggested_taught_searches` are earlier "
        "queries you gave feedback on (the nearest of each of the nearest subjects, nearest "
        "first; `suggested_taught` the first), when saying this search is like one of them "
        "(`like_query`) would change the ranking.",
    )
    def post(self, request: Request) -> Response:
        from retrieval.engine.errors import ModelNotReadyError, WeightsMissingError

        data = SearchRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        tenant = request.user.tenant_id
        wanted = values.get("libraries") or []
        if wanted:
            chosen = selectors.libraries_by_ids(tenant=tenant, ids=wanted)
            unknown = sorted(set(wanted) - {lib.pk for lib in chosen})
            if unknown:
                raise exceptions.ValidationError(
                    {"libraries": f"Unknown library id(s): {', '.join(map(str, unknown))}."}
                )
        else:
            chosen = list(selectors.library_list(tenant=tenant))
        session = None
        if values.get("session") is not None:
            session = selectors.session_get(user=request.user, pk=values["session"])
        elif not values.get("new_session"):
            # Without `session`, the query joins the user's current (most recent) session;
            # `new_session: true` starts one (titled automatically, sessions.automatic_title).
            session = sessions.current_session(user=request.user)
        source_image = None
        if values.get("image") is not None:
            source_image = selectors.image_get(tenant=tenant, pk=values["image"])
        like_query = None
        if values.get("like_query") is not None:
            like_query = selectors.query_get(user=request.user, pk=values["like_query"])
        sketch = values.get("sketch")
        try:
            outcome = search.search_run(
                user=request.user,
                libraries=chosen,
                strokes=values.get("strokes"),
                sketch_bytes=sketch.read() if sketch is not None else None,
                source_image=source_image,
                top_k=values["top_k"],
                personal_weight=values["personal_weight"],
                session=session,
                like_query=like_query,
            )
        except SearchUnavailable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except (WeightsMissingError, ModelNotReadyError) as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        query = selectors.query_get(user=request.user, pk=outcome.query.pk)
        query.warnings = outcome.warnings
        return Response(SearchResponseSerializer(query).data, status=status.HTTP_201_CREATED)


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
        except SearchUnavailable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except (WeightsMissingError, ModelNotReadyError) as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(ComparisonSerializer(comparison).data)
