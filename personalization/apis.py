"""REST endpoints for feedback, w, training and personal heads.

Each endpoint validates, calls one selector or service, and serializes. Feedback, w and
training requests act on the caller only; heads and jobs are the caller's own, or (for a
tenant admin) those of a user of the same organisation. Anything else is a 404.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.permissions import IsTenantMember
from personalization import selectors
from personalization.serializers import (
    FeedbackCreateSerializer,
    FeedbackFilterSerializer,
    FeedbackForgottenSerializer,
    FeedbackSerializer,
    PersonalHeadSerializer,
    RollbackResultSerializer,
    SettingsSerializer,
    StatusSerializer,
    TrainingJobSerializer,
    WeightSerializer,
)
from personalization.services import feedback, heads, preferences, training

TAG = "personalization"
MAX_LIST = 500


class FeedbackListApi(APIView):
    permission_classes = [IsTenantMember]

    @extend_schema(
        tags=[TAG],
        parameters=[FeedbackFilterSerializer],
        responses=FeedbackSerializer(many=True),
        description="Your live (not withdrawn) feedback, newest first.",
    )
    def get(self, request: Request) -> Response:
        # A query_id that is not a whole number >= 1 (`null`, `abc`) is a 400, not "all".
        filters = FeedbackFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        rows = selectors.feedback_list(
            user=request.user, query_id=filters.validated_data.get("query_id")
        )
        return Response(FeedbackSerializer(rows[:MAX_LIST], many=True).data)

    @extend_schema(
        tags=[TAG],
        request=FeedbackCreateSerializer,
        responses={
            201: FeedbackSerializer(many=True),
            400: OpenApiResponse(description="Neither or both of result_ids / none_of_these."),
            404: OpenApiResponse(description="No such query of yours."),
        },
        description="Mark the results you meant on one of your queries (`result_ids`), or "
        "say `none_of_these`. Returns the query's live feedback.",
    )
    def post(self, request: Request) -> Response:
        data = FeedbackCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rows = feedback.feedback_create(user=request.user, **data.validated_data)
        return Response(FeedbackSerializer(rows, many=True).data, status=status.HTTP_201_CREATED)


class FeedbackDetailApi(APIView):
    permission_classes = [IsTenantMember]

    @extend_schema(tags=[TAG], responses=FeedbackSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(FeedbackSerializer(selectors.feedback_get(user=request.user, pk=pk)).data)

    @extend_schema(
        tags=[TAG],
        responses={204: None},
        description="Withdraw one of your marks; it stops counting for the next training.",
    )
    def delete(self, request: Request, pk: int) -> Response:
        feedback.feedback_withdraw(user=request.user, feedback_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class _ForgetApi(APIView):
    """POST: withdraw every live mark of one of your searches / sessions (``pk`` in the URL)."""

    permission_classes = [IsTenantMember]
    target = "query_id"

    def post(self, request: Request, pk: int) -> Response:
        withdrawn = feedback.feedback_forget(user=request.user, **{self.target: pk})
        return Response(FeedbackForgottenSerializer({"withdrawn": withdrawn}).data)


class QueryFeedbackForgetApi(_ForgetApi):
    target = "query_id"

    @extend_schema(
        tags=[TAG],
        request=None,
        responses={
            200: FeedbackForgottenSerializer,
            404: OpenApiResponse(description="No such search of yours."),
        },
        description="Forget your feedback on one of your searches: all its marks are "
        "withdrawn, and your next search no longer uses them (nor your personalized model "
        "near that search).",
    )
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


class SessionFeedbackForgetApi(_ForgetApi):
    target = "session_id"

    @extend_schema(
        tags=[TAG],
        request=None,
        responses={
            200: FeedbackForgottenSerializer,
            404: OpenApiResponse(description="No such session of yours."),
        },
        description="Forget your feedback on every search of one of your sessions.",
    )
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


class SettingsApi(APIView):
    permission_classes = [IsTenantMember]

    @extend_schema(tags=[TAG], responses=SettingsSerializer)
    def get(self, request: Request) -> Response:
        return Response(SettingsSerializer(selectors.settings_for(user=request.user)).data)

    @extend_schema(
        tags=[TAG],
        request=WeightSerializer,
        responses={200: SettingsSerializer, 400: OpenApiResponse(description="w not in [0, 1].")},
        description="Set your w: 0 ranks by the general model only; above 0 what you taught "
        "(your marks and personalized model) counts with share w x closeness on searches "
        "close to the ones you gave feedback on, and not at all on others. A search can "
        "still override it per request.",
    )
    def patch(self, request: Request) -> Response:
        return self._save(request, partial=True)  # PATCH is partial: {} changes nothing

    @extend_schema(
        tags=[TAG],
        request=WeightSerializer,
        responses={200: SettingsSerializer, 400: OpenApiResponse(description="w not in [0, 1].")},
        description="Set your w (eq. 18); `personal_weight` is required.",
    )
    def put(self, request: Request) -> Response:
        return self._save(request, partial=False)

    def _save(self, request: Request, *, partial: bool) -> Response:
        data = WeightSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        if "personal_weight" in data.validated_data:
            preferences.personal_weight_set(
                user=request.user, personal_weight=data.validated_data["personal_weight"]
            )
        return Response(SettingsSerializer(selectors.settings_for(user=request.user)).data)


class StatusApi(APIView):
    permission_classes = [IsTenantMember]

    @extend_schema(tags=[TAG], responses=StatusSerializer)
    def get(self, request: Request) -> Response:
        return Response(StatusSerializer(selectors.panel_status(user=request.user)).data)


class TrainingRequestApi(APIView):
    permission_classes = [IsTenantMember]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "training"

    @extend_schema(
        tags=[TAG],
        request=None,
        responses={
            202: TrainingJobSerializer,
            200: OpenApiResponse(TrainingJobSerializer, description="A job was already open."),
            400: OpenApiResponse(description="No feedback to train on yet."),
        },
        description="Train your personalized model now. At most one job per user is queued "
        "or running; asking again returns that job.",
    )
    def post(self, request: Request) -> Response:
        job, created = training.training_request(user=request.user, requested_by=request.user)
        code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
        return Response(TrainingJobSerializer(job).data, status=code)


class JobListApi(APIView):
    permission_classes = [IsTenantMember]

    @extend_schema(tags=[TAG], responses=TrainingJobSerializer(many=True))
    def get(self, request: Request) -> Response:
        jobs = selectors.job_list(user=request.user)[:MAX_LIST]
        return Response(TrainingJobSerializer(jobs, many=True).data)


class JobDetailApi(APIView):
    permission_classes = [IsTenantMember]

    @extend_schema(tags=[TAG], responses=TrainingJobSerializer)
    def get(self, request: Request, pk: int) -> Response:
        job = selectors.job_get(viewer=request.user, pk=pk)
        return Response(TrainingJobSerializer(job).data)


class HeadListApi(APIView):
    permission_classes = [IsTenantMember]

    @extend_schema(tags=[TAG], responses=PersonalHeadSerializer(many=True))
    def get(self, request: Request) -> Response:
        rows = selectors.head_list(user=request.user)[:MAX_LIST]
        return Response(PersonalHeadSerializer(rows, many=True).data)


class UserHeadListApi(APIView):
    permission_classes = [IsTenantMember]

    @extend_schema(
        tags=[TAG],
        responses=PersonalHeadSerializer(many=True),
        description="A user's heads: your own, or (tenant admins) any member's.",
    )
    def get(self, request: Request, user_id: int) -> Response:
        user = selectors.managed_user_get(viewer=request.user, user_id=user_id)
        rows = selectors.head_list(user=user)[:MAX_LIST]
        return Response(PersonalHeadSerializer(rows, many=True).data)


class HeadDetailApi(APIView):
    permission_classes = [IsTenantMember]

    @extend_schema(tags=[TAG], responses=PersonalHeadSerializer)
    def get(self, request: Request, pk: int) -> Response:
        head = selectors.head_get(viewer=request.user, pk=pk)
        return Response(PersonalHeadSerializer(head).data)


class HeadActivateApi(APIView):
    permission_classes = [IsTenantMember]

    @extend_schema(
        tags=[TAG],
        request=None,
        responses={
            200: PersonalHeadSerializer,
            400: OpenApiResponse(description="The head is not ready."),
        },
        description="Serve this (earlier or latest) head from now on: a rollback.",
    )
    def post(self, request: Request, pk: int) -> Response:
        head = heads.head_activate(actor=request.user, head_id=pk)
        return Response(PersonalHeadSerializer(head).data)


class UserDeactivateApi(APIView):
    permission_classes = [IsTenantMember]

    @extend_schema(
        tags=[TAG],
        request=None,
        responses=RollbackResultSerializer,
        description="Roll a user back to no personalized model (general ranking only).",
    )
    def post(self, request: Request, user_id: int) -> Response:
        changed = heads.head_deactivate_all(actor=request.user, user_id=user_id)
        return Response(RollbackResultSerializer({"deactivated": changed}).data)
