"""Isolation-matrix registrations for the accounts app (pages under /accounts/, API under /api/)."""

from __future__ import annotations

from itertools import count
from typing import Any

from accounts import services
from accounts.models import Tenant, User
from tests.isolation import (
    allow_public,
    register_collection_route,
    register_create_route,
    register_object_route,
)

_n = count(1)


def make_member(tenant: Tenant, user: Any = None, **fields: Any) -> User:
    """An active member of ``tenant`` whose username carries the tenant slug."""
    return User.objects.create_user(
        username=f"{tenant.slug}-m{next(_n)}",
        password="pw-for-isolation-1",
        tenant=tenant,
        **fields,
    )


def make_invited(tenant: Tenant, user: User) -> User:
    return services.member_invite(
        tenant=tenant, invited_by=user, username=f"{tenant.slug}-inv{next(_n)}"
    ).user


def count_members(tenant: Tenant) -> int:
    return User.objects.filter(tenant=tenant).count()


def me_contains(response: Any, tenant: Tenant) -> bool:
    return (response.json().get("tenant") or {}).get("id") == tenant.pk


def _new_member_body(password: bool) -> dict[str, str]:
    body = {"username": f"created-{next(_n)}", "role": "member"}
    if password:
        body.update(password="a-long-new-password-9", password1="a-long-new-password-9")
        body["password2"] = body["password1"]
    return body


# --- API ---------------------------------------------------------------------------------
register_object_route(
    "accounts-api:member-detail",
    factory=lambda tenant, user: make_member(tenant),
    methods=["get", "patch", "delete"],
    role="admin",
    data={"patch": {"first_name": "Renamed", "role": "admin"}},
)
register_collection_route(
    "accounts-api:member-list", factory=lambda tenant, user: make_member(tenant), role="admin"
)
register_collection_route(
    "accounts-api:me", factory=lambda tenant, user: tenant, contains=me_contains
)
register_create_route(
    "accounts-api:member-invite",
    data=lambda: _new_member_body(password=False),
    count=count_members,
    role="admin",
)
allow_public("accounts-api:auth-token", "takes credentials; answers only for the caller")

# --- Pages -------------------------------------------------------------------------------
register_collection_route(
    "accounts:members", factory=lambda tenant, user: make_member(tenant), role="admin"
)
register_create_route(
    "accounts:member-create",
    data=lambda: _new_member_body(password=True),
    count=count_members,
    role="admin",
)
register_create_route(
    "accounts:member-invite",
    data=lambda: _new_member_body(password=False),
    count=count_members,
    role="admin",
)
register_object_route(
    "accounts:member-role",
    factory=lambda tenant, user: make_member(tenant),
    methods=["post"],
    role="admin",
    data={"post": {"role": "admin"}},
)
register_object_route(
    "accounts:member-deactivate",
    factory=lambda tenant, user: make_member(tenant),
    methods=["post"],
    role="admin",
)
register_object_route(
    "accounts:member-reactivate",
    factory=lambda tenant, user: make_member(tenant, is_active=False),
    methods=["post"],
    role="admin",
)
register_object_route(
    "accounts:member-reinvite", factory=make_invited, methods=["post"], role="admin"
)
allow_public("accounts:login", "the login form")
allow_public("accounts:logout", "ends the caller's own session")
allow_public("accounts:signup", "creates a new organisation; no existing tenant data")
allow_public("accounts:password-change", "acts on request.user only")
allow_public(
    "accounts:invite-accept",
    "the single-use token is the credential; unknown, used and expired tokens get the same 404",
)
