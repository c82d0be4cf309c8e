"""Who may do what: organisation members vs organisation admins, for APIs and for pages.

- API views: ``permission_classes = [IsTenantMember]`` or ``[IsTenantAdmin]``.
- Page views: ``@tenant_member_required`` or ``@tenant_admin_required``.

Anonymous page visitors are sent to the login page; signed-in users without an organisation
(platform superusers) get a friendly page pointing at the Django admin; members on an
admin-only page get 403. Object lookups still go through ``for_tenant`` / ``get_for_tenant_or_404``:
these checks say *who* may act, the tenant filter says *on what*.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.permissions import BasePermission


def _is_tenant_member(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.tenant_id is not None)


class IsTenantMember(BasePermission):
    """Signed in, active, and belonging to an organisation."""

    message = "This account does not belong to an organisation."

    def has_permission(self, request: Any, view: Any) -> bool:
        return _is_tenant_member(request.user)


class IsTenantAdmin(IsTenantMember):
    """An organisation admin (manages members and image libraries)."""

    message = "Only organisation admins can do this."

    def has_permission(self, request: Any, view: Any) -> bool:
        return _is_tenant_member(request.user) and request.user.is_tenant_admin


ViewFunc = Callable[..., HttpResponse]


def _no_tenant_response(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/no_tenant.html", status=403)


def tenant_member_required(view: ViewFunc) -> ViewFunc:
    """Page decorator: the caller is an active member (any role) of an organisation."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not _is_tenant_member(request.user):
            return _no_tenant_response(request)
        return view(request, *args, **kwargs)

    return wrapper


def tenant_admin_required(view: ViewFunc) -> ViewFunc:
    """Page decorator: the caller is an admin of their organisation; members get 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not _is_tenant_member(request.user):
            return _no_tenant_response(request)
        if not request.user.is_tenant_admin:
            return render(request, "accounts/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper
