"""REST endpoints for libraries, photos, index jobs, sessions and queries (the search itself,
``/api/search/``, is personalization.search_apis).

Each endpoint validates, calls one selector or service, and serializes. Objects are always
fetched through the caller's tenant (and, for sessions and queries, the caller): another
organisation's id is the same 404 as an id that does not exist.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsTenantAdmin, IsTenantMember
from retrieval import archives, labels, selectors
from retrieval.serializers import (
    ImageLabelSerializer,
    ImageSerializer,
    ImageUploadSerializer,
    ImportOutcomeSerializer,
    JobSerializer,
    LabelsOutcomeSerializer,
    LabelsUploadSerializer,
    LibrarySerializer,
    LibraryWriteSerializer,
    QueryDetailSerializer,
    SessionDetailSerializer,
    SessionSerializer,
    SessionWriteSerializer,
    ZipUploadSerializer,
)
from retrieval.services import images as image_services
from retrieval.services import indexing, libraries, sessions

TAG_LIBRARIES = "libraries"
TAG_SEARCH = "search"
MAX_LIST = 1000
MAX_OFFSET = 2**31
PAGE_PARAMETERS = [
    OpenApiParameter(
        "offset",
        {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
        description="Rows to skip (default 0).",
    ),
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIST},
        description=f"Rows to return, 1..{MAX_LIST} (default {MAX_LIST}).",
    ),
]


def _page_bound(request: Request, name: str, default: int, lowest: int, highest: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise exceptions.ValidationError({name: "Must be a whole number."}) from None
    if not lowest <= value <= highest:
        raise exceptions.ValidationError({name: f"Must be between {lowest} and {highest}."})
    return value


def _paged(request: Request, rows: Any, serializer: type) -> Response:
    """One page of a list: ``?offset=&limit=``; the total count and the next page's URL go in
    the ``X-Total-Count`` and ``Link: <...>; rel="next"`` headers, so the body stays a list."""
    offset = _page_bound(request, "offset", 0, 0, MAX_OFFSET)
    limit = _page_bound(request, "limit", MAX_LIST, 1, MAX_LIST)
    total = rows.count()
    response = Response(serializer(rows[offset : offset + limit], many=True).data)
    response["X-Total-Count"] = str(total)
    if offset + limit < total:
        query = request.query_params.copy()
        query["offset"], query["limit"] = str(offset + limit), str(limit)
        next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        response["Link"] = f'<{next_url}>; rel="next"'
    return response


class MemberReadsAdminWrites(BasePermission):
    """Members read (to choose what to search); creating libraries is for admins.

    Everything inside a library (its photos, jobs, settings) is admin-only: members only
    meet photos through search results and the media URLs those carry.
    """

    message = IsTenantAdmin.message

    def has_permission(self, request: Any, view: Any) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return IsTenantMember().has_permission(request, view)
        return IsTenantAdmin().has_permission(request, view)


def _tenant(request: Request) -> int:
    return request.user.tenant_id


def _outcome_response(outcome: image_services.ImportOutcome) -> Response:
    data = ImportOutcomeSerializer(
        {
            "job": outcome.job,
            "added": outcome.added,
            "failures": outcome.failures,
            "label_problems": outcome.label_problems,
        }
    ).data
    return Response(data, status=status.HTTP_201_CREATED if outcome.added else status.HTTP_200_OK)


# --- libraries -----------------------------------------------------------------------------


class LibraryListApi(APIView):
    permission_classes = [MemberReadsAdminWrites]

    @extend_schema(tags=[TAG_LIBRARIES], responses=LibrarySerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(
            LibrarySerializer(selectors.library_list(tenant=_tenant(request)), many=True).data
        )

    @extend_schema(
        tags=[TAG_LIBRARIES], request=LibraryWriteSerializer, responses={201: LibrarySerializer}
    )
    def post(self, request: Request) -> Response:
        data = LibraryWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        library = libraries.library_create(tenant=request.user.tenant, **data.validated_data)
        library = selectors.library_get(tenant=_tenant(request), pk=library.pk)
        return Response(LibrarySerializer(library).data, status=status.HTTP_201_CREATED)


class LibraryDetailApi(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(tags=[TAG_LIBRARIES], responses=LibrarySerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(
            LibrarySerializer(selectors.library_get(tenant=_tenant(request), pk=pk)).data
        )

    @extend_schema(
        tags=[TAG_LIBRARIES], request=LibraryWriteSerializer, responses=LibrarySerializer
    )
    def patch(self, request: Request, pk: int) -> Response:
        library = selectors.library_get(tenant=_tenant(request), pk=pk)
        data = LibraryWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        libraries.library_update(library=library, **data.validated_data)
        return Response(
            LibrarySerializer(selectors.library_get(tenant=_tenant(request), pk=pk)).data
        )

    @extend_schema(tags=[TAG_LIBRARIES], responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        libraries.library_delete(library=selectors.library_get(tenant=_tenant(request), pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class LibraryReindexApi(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(
        tags=[TAG_LIBRARIES],
        request=None,
        responses={202: JobSerializer},
        description="Re-index every photo with the current model. The served index keeps "
        "answering searches until the new one is complete. Returns the running re-index "
        "if there is one.",
    )
    def post(self, request: Request, pk: int) -> Response:
        library = selectors.library_get(tenant=_tenant(request), pk=pk)
        job = indexing.library_reindex(library=library, user=request.user)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class LibraryJobListApi(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(tags=[TAG_LIBRARIES], responses=JobSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        library = selectors.library_get(tenant=_tenant(request), pk=pk)
        return Response(JobSerializer(selectors.job_list(library=library)[:100], many=True).data)


class JobDetailApi(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(tags=[TAG_LIBRARIES], responses=JobSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(JobSerializer(selectors.job_get(tenant=_tenant(request), pk=pk)).data)


# --- photos --------------------------------------------------------------------------------


class LibraryImageListApi(APIView):
    permission_classes = [IsTenantAdmin]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        tags=[TAG_LIBRARIES],
        parameters=[
            OpenApiParameter("status", str, enum=["pending", "indexed", "failed"]),
            OpenApiParameter("q", str, description="Text in name, caption or labels."),
            *PAGE_PARAMETERS,
        ],
        responses=ImageSerializer(many=True),
    )
    def get(self, request: Request, pk: int) -> Response:
        library = selectors.library_get(tenant=_tenant(request), pk=pk)
        images = selectors.image_list(
            library=library,
            status=request.query_params.get("status") or None,
            search=request.query_params.get("q") or None,
        )
        return _paged(request, images, ImageSerializer)

    @extend_schema(
        tags=[TAG_LIBRARIES],
        request={"multipart/form-data": ImageUploadSerializer},
        responses={201: ImportOutcomeSerializer, 200: ImportOutcomeSerializer},
        description="Add photos. Each file is checked on its own; refused files are listed in "
        "`failures` and the rest are indexed by a background job (see `job`).",
    )
    def post(self, request: Request, pk: int) -> Response:
        library = selectors.library_get(tenant=_tenant(request), pk=pk)
        data = ImageUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        outcome = image_services.images_import(
            library=library,
            items=image_services.uploads_as_items(values["files"]),
            defaults={k: values[k] for k in ("category", "subcategory") if k in values},
            user=request.user,
        )
        return _outcome_response(outcome)


class LibraryZipUploadApi(APIView):
    permission_classes = [IsTenantAdmin]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        tags=[TAG_LIBRARIES],
        request={"multipart/form-data": ZipUploadSerializer},
        responses={201: ImportOutcomeSerializer, 200: ImportOutcomeSerializer},
        description="Add the photos of a zip archive (limits: file count, unpacked size, size "
        "per photo). Unsafe entries (absolute or `..` names, nested archives) are refused "
        "one by one and listed in `failures`.",
    )
    def post(self, request: Request, pk: int) -> Response:
        library = selectors.library_get(tenant=_tenant(request), pk=pk)
        data = ZipUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        archive, labels_file = data.validated_data["archive"], data.validated_data.get("labels")
        try:
            outcome = image_services.library_import_zip(
                library=library,
                archive=archive,
                archive_size=archive.size,
                labels_csv=labels_file.read() if labels_file is not None else None,
                user=request.user,
            )
        except archives.ArchiveRejected as exc:
            raise exceptions.ValidationError({"archive": str(exc)}) from None
        except labels.LabelsRejected as exc:
            raise exceptions.ValidationError({"labels": str(exc)}) from None
        return _outcome_response(outcome)


class LibraryLabelsApi(APIView):
    permission_classes = [IsTenantAdmin]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        tags=[TAG_LIBRARIES],
        request={"multipart/form-data": LabelsUploadSerializer},
        responses=LabelsOutcomeSerializer,
        description="Label the library's photos from a CSV (`file` + `category`, "
        "`subcategory`, `caption` columns), matched by file name.",
    )
    def post(self, request: Request, pk: int) -> Response:
        library = selectors.library_get(tenant=_tenant(request), pk=pk)
        data = LabelsUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            outcome = image_services.labels_import_csv(
                library=library, data=data.validated_data["labels"].read()
            )
        except labels.LabelsRejected as exc:
            raise exceptions.ValidationError({"labels": str(exc)}) from None
        return Response(LabelsOutcomeSerializer(outcome).data)


class ImageDetailApi(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(tags=[TAG_LIBRARIES], responses=ImageSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(ImageSerializer(selectors.image_get(tenant=_tenant(request), pk=pk)).data)

    @extend_schema(tags=[TAG_LIBRARIES], request=ImageLabelSerializer, responses=ImageSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        image = selectors.image_get(tenant=_tenant(request), pk=pk)
        data = ImageLabelSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        image = image_services.image_label(image=image, **data.validated_data)
        return Response(ImageSerializer(image).data)

    @extend_schema(tags=[TAG_LIBRARIES], responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        image_services.image_delete(image=selectors.image_get(tenant=_tenant(request), pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- sessions, queries -------------------------------------------------------------------


class SessionListApi(APIView):
    permission_classes = [IsTenantMember]
    # JSON only: a form body that parses to nothing would read as "no title" (a valid create).
    parser_classes = [JSONParser]

    @extend_schema(
        tags=[TAG_SEARCH], parameters=PAGE_PARAMETERS, responses=SessionSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        return _paged(request, selectors.session_list(user=request.user), SessionSerializer)

    @extend_schema(
        tags=[TAG_SEARCH], request=SessionWriteSerializer, responses={201: SessionSerializer}
    )
    def post(self, request: Request) -> Response:
        data = SessionWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        session = sessions.session_create(
            user=request.user, title=data.validated_data.get("title", "")
        )
        return Response(SessionSerializer(session).data, status=status.HTTP_201_CREATED)


class SessionDetailApi(APIView):
    permission_classes = [IsTenantMember]
    # JSON only: a form body that parses to nothing would read as "no title" (a valid create).
    parser_classes = [JSONParser]

    @extend_schema(tags=[TAG_SEARCH], responses=SessionDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        session = selectors.session_list(user=request.user).get_for_tenant_or_404(
            request.user.tenant_id, pk=pk
        )
        return Response(SessionDetailSerializer(session).data)

    @extend_schema(tags=[TAG_SEARCH], request=SessionWriteSerializer, responses=SessionSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        session = selectors.session_get(user=request.user, pk=pk)
        data = SessionWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        if "title" in data.validated_data:  # PATCH is partial: {} changes nothing
            sessions.session_rename(session=session, title=data.validated_data["title"])
        return Response(SessionSerializer(session).data)

    @extend_schema(tags=[TAG_SEARCH], responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        sessions.session_delete(session=selectors.session_get(user=request.user, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class QueryDetailApi(APIView):
    permission_classes = [IsTenantMember]

    @extend_schema(tags=[TAG_SEARCH], responses=QueryDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(QueryDetailSerializer(selectors.query_get(user=request.user, pk=pk)).data)
