"""REST endpoints for auth and members: validate, call one service or selector, serialize."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.authentication import LoginLockedOut, authenticate_throttled
from accounts.permissions import IsTenantAdmin
from accounts.serializers import (
    MemberCreateSerializer,
    MemberInviteCreateSerializer,
    MemberInviteSerializer,
    MemberSerializer,
    MemberUpdateSerializer,
    MeSerializer,
    TokenObtainSerializer,
    TokenSerializer,
)

TAG = "accounts"


class TokenObtainApi(APIView):
    """Exchange a username and password for an API token."""

    permission_classes = [AllowAny]
    # No session auth here: the endpoint takes credentials, so CSRF must not get in the way.
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(
        tags=[TAG],
        request=TokenObtainSerializer,
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(description="Wrong username or password."),
            429: OpenApiResponse(description="Too many attempts; see Retry-After."),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = TokenObtainSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            user = authenticate_throttled(
                request,
                username=data.validated_data["username"],
                password=data.validated_data["password"],
            )
        except LoginLockedOut as exc:
            raise exceptions.Throttled(wait=exc.wait_seconds, detail=str(exc)) from exc
        if user is None:
            raise exceptions.ValidationError({"detail": "Unable to log in with these credentials."})
        token = services.user_token_get_or_create(user=user)
        return Response(TokenSerializer({"token": token.key, "user": user}).data)


class MeApi(APIView):
    """Who am I: the user, their role and their organisation (``null`` for platform staff)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(tags=[TAG], responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user).data)


class MemberListApi(APIView):
    """Members of the caller's organisation (admins only)."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(tags=[TAG], responses=MemberSerializer(many=True))
    def get(self, request: Request) -> Response:
        members = selectors.members_of_tenant(request.user.tenant)
        return Response(MemberSerializer(members, many=True).data)

    @extend_schema(tags=[TAG], request=MemberCreateSerializer, responses={201: MemberSerializer})
    def post(self, request: Request) -> Response:
        data = MemberCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = services.member_create(tenant=request.user.tenant, **data.validated_data)
        return Response(MemberSerializer(member).data, status=status.HTTP_201_CREATED)


class MemberInviteApi(APIView):
    """Invite a member: creates them inactive and returns a single-use link to set a password."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(
        tags=[TAG], request=MemberInviteCreateSerializer, responses={201: MemberInviteSerializer}
    )
    def post(self, request: Request) -> Response:
        data = MemberInviteCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        link = services.member_invite(
            tenant=request.user.tenant, invited_by=request.user, **data.validated_data
        )
        url = request.build_absolute_uri(reverse("accounts:invite-accept", args=[link.token]))
        body = {"member": link.user, "invite_url": url, "expires_at": link.expires_at}
        return Response(MemberInviteSerializer(body).data, status=status.HTTP_201_CREATED)


class MemberDetailApi(APIView):
    """One member of the caller's organisation. DELETE deactivates (their data stays)."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(tags=[TAG], responses=MemberSerializer)
    def get(self, request: Request, pk: int) -> Response:
        member = selectors.member_get_or_404(request.user.tenant, pk)
        return Response(MemberSerializer(member).data)

    @extend_schema(tags=[TAG], request=MemberUpdateSerializer, responses=MemberSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        member = selectors.member_get_or_404(request.user.tenant, pk)
        data = MemberUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.member_update(member=member, acting_user=request.user, **data.validated_data)
        return Response(MemberSerializer(selectors.member_get_or_404(request.user.tenant, pk)).data)

    @extend_schema(tags=[TAG], responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        member = selectors.member_get_or_404(request.user.tenant, pk)
        services.member_deactivate(member=member, acting_user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
