"""Account pages: sign-up, login/logout, password change, members admin, invite acceptance."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.messages.views import SuccessMessageMixin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.forms import (
    InviteAcceptForm,
    MemberCreateForm,
    MemberInviteForm,
    RoleForm,
    SignupForm,
    ThrottledAuthenticationForm,
    add_service_errors,
)
from accounts.models import User
from accounts.permissions import tenant_admin_required

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form: ThrottledAuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.locked_out:
            response.status_code = 429
        return response


class LogoutView(auth_views.LogoutView):
    """POST only (Django 5): a link or an image tag cannot sign anyone out."""


class PasswordChangeView(SuccessMessageMixin, auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("home")
    success_message = "Your password was changed."


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.tenant_signup(
                organisation_name=data["organisation_name"],
                username=data["username"],
                password=data["password1"],
                email=data["email"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            login(request, user, backend=MODEL_BACKEND)
            messages.success(request, f"Welcome! {user.tenant.name} is ready.")
            return redirect("home")
    return render(request, "accounts/signup.html", {"form": form})


def _members_page(
    request: HttpRequest,
    *,
    create_form: MemberCreateForm | None = None,
    invite_form: MemberInviteForm | None = None,
    invite_link: services.InviteLink | None = None,
    status: int = 200,
) -> HttpResponse:
    tenant = request.user.tenant
    members = list(selectors.members_of_tenant(tenant))
    for member in members:
        member.status = selectors.member_status(member)
    context: dict[str, Any] = {
        "tenant": tenant,
        "members": members,
        "roles": User.Role.choices,
        "create_form": create_form or MemberCreateForm(),
        "invite_form": invite_form or MemberInviteForm(),
        "invite_link": invite_link,
        "invite_url": _invite_url(request, invite_link) if invite_link else "",
    }
    return render(request, "accounts/members.html", context, status=status)


def _invite_url(request: HttpRequest, link: services.InviteLink) -> str:
    return request.build_absolute_uri(reverse("accounts:invite-accept", args=[link.token]))


@tenant_admin_required
def members(request: HttpRequest) -> HttpResponse:
    return _members_page(request)


@require_POST
@tenant_admin_required
def member_create(request: HttpRequest) -> HttpResponse:
    form = MemberCreateForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            user = services.member_create(
                tenant=request.user.tenant,
                username=data["username"],
                password=data["password1"],
                role=data["role"],
                email=data["email"],
                first_name=data["first_name"],
                last_name=data["last_name"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{user.username} can now sign in.")
            return redirect("accounts:members")
    return _members_page(request, create_form=form, status=400)


@require_POST
@tenant_admin_required
def member_invite(request: HttpRequest) -> HttpResponse:
    form = MemberInviteForm(request.POST)
    if form.is_valid():
        try:
            link = services.member_invite(
                tenant=request.user.tenant, invited_by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            # Rendered, not redirected: the raw token must not travel through the messages
            # cookie or the session. It is shown this once.
            return _members_page(request, invite_link=link)
    return _members_page(request, invite_form=form, status=400)


@require_POST
@tenant_admin_required
def member_reinvite(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.member_get_or_404(request.user.tenant, pk)
    try:
        link = services.member_invite_reissue(member=member, invited_by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("accounts:members")
    return _members_page(request, invite_link=link)


@require_POST
@tenant_admin_required
def member_role(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.member_get_or_404(request.user.tenant, pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a valid role.")
        return redirect("accounts:members")
    try:
        services.member_update_role(
            member=member, role=form.cleaned_data["role"], acting_user=request.user
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{member.username} is now {member.get_role_display()}.")
    return redirect("accounts:members")


@require_POST
@tenant_admin_required
def member_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.member_get_or_404(request.user.tenant, pk)
    try:
        services.member_deactivate(member=member, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("accounts:members")
    if member.pk == request.user.pk:
        logout(request)
        messages.info(request, "You deactivated your own account and were signed out.")
        return redirect("accounts:login")
    messages.success(request, f"{member.username} was deactivated.")
    return redirect("accounts:members")


@require_POST
@tenant_admin_required
def member_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.member_get_or_404(request.user.tenant, pk)
    try:
        services.member_reactivate(member=member, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{member.username} can sign in again.")
    return redirect("accounts:members")


def invite_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Anyone holding the link may use it once; the token is the credential."""
    invitation = selectors.invitation_get_open(token)
    if invitation is None:
        return render(request, "accounts/invite_invalid.html", status=404)
    form = InviteAcceptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invite_accept(token=token, password=form.cleaned_data["password1"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            login(request, user, backend=MODEL_BACKEND)
            messages.success(request, f"Welcome to {user.tenant.name}!")
            return redirect("home")
    return render(request, "accounts/invite_accept.html", {"form": form, "invitation": invitation})
