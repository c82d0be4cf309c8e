"""Reads about organisations and their members. Every lookup names the tenant."""

from __future__ import annotations

import hashlib

from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404
from django.utils import timezone

from accounts.models import Invitation, Tenant, User


def hash_invite_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _open_invitations() -> QuerySet[Invitation]:
    return Invitation.objects.filter(accepted_at__isnull=True, expires_at__gt=timezone.now())


def members_of_tenant(tenant: Tenant) -> QuerySet[User]:
    """All users of ``tenant`` (active, invited and deactivated), admins first.

    Each row carries ``has_open_invitation`` so callers can tell "invited" from "deactivated"
    without a query per member.
    """
    open_invites = _open_invitations().filter(tenant=tenant, user=OuterRef("pk"))
    return (
        User.objects.filter(tenant=tenant)
        .annotate(has_open_invitation=Exists(open_invites))
        .order_by("role", "username")
    )


def member_get_or_404(tenant: Tenant, pk: object) -> User:
    """One member of ``tenant``; unknown ids and other organisations' users are the same 404."""
    try:
        return members_of_tenant(tenant).get(pk=pk)
    except (User.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No member matches the given query.") from exc


def member_status(user: User) -> str:
    """``active``, ``invited`` (has not set a password yet) or ``deactivated``."""
    if user.is_active:
        return "active"
    has_open = getattr(user, "has_open_invitation", None)
    if has_open is None:
        has_open = _open_invitations().filter(user=user).exists()
    return "invited" if has_open else "deactivated"


def active_admin_count(tenant: Tenant) -> int:
    return User.objects.filter(tenant=tenant, role=User.Role.ADMIN, is_active=True).count()


def invitation_get_open(token: str) -> Invitation | None:
    """The unexpired, unused invitation behind ``token``, or ``None`` for anything else."""
    if not token:
        return None
    return (
        _open_invitations()
        .select_related("user", "tenant")
        .filter(token_hash=hash_invite_token(token), user__is_active=False)
        .first()
    )
