"""Writes about organisations and their members.

Every function takes keyword arguments, validates what the database cannot, and raises
``django.core.exceptions.ValidationError`` with a message fit for the person who asked.
Callers (forms, APIs) have already made sure the acting user may act on that tenant;
the functions still refuse to cross tenants, as a last line.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from rest_framework.authtoken.models import Token

from accounts import selectors
from accounts.models import Invitation, Tenant, User
from psbir_site import events

INVITATION_LIFETIME = timedelta(days=7)
USERNAME_TAKEN = "A user with that username already exists."


@dataclass(frozen=True)
class InviteLink:
    """What an admin gets back from an invite: the raw token exists only here."""

    user: User
    invitation: Invitation
    token: str

    @property
    def expires_at(self) -> datetime:
        return self.invitation.expires_at


def _unique_slug(name: str) -> str:
    base = slugify(name)[:120] or "organisation"
    slug, n = base, 1
    while Tenant.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def _new_user(
    *,
    tenant: Tenant,
    username: str,
    role: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    password: str | None,
) -> User:
    """Validate everything at once (so a form shows every problem), then save.

    ``password=None`` makes an invited user: inactive, no usable password until they accept.
    """
    user = User(
        tenant=tenant,
        username=username,
        role=role,
        email=email,
        first_name=first_name,
        last_name=last_name,
        is_active=password is not None,
    )
    errors: dict[str, list[str]] = {}
    try:
        user.full_clean(exclude=["password"], validate_unique=False)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    # Case-insensitive: "Alice" and "alice" would be the same person to everyone reading.
    if User.objects.filter(username__iexact=username).exists():
        errors.setdefault("username", []).append(USERNAME_TAKEN)
    if password is not None:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            errors["password"] = exc.messages
    if errors:
        raise ValidationError(errors)
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    try:
        user.save()
    except IntegrityError as exc:  # a concurrent sign-up took the name between check and save
        raise ValidationError({"username": USERNAME_TAKEN}) from exc
    return user


@transaction.atomic
def tenant_signup(*, organisation_name: str, username: str, password: str, email: str = "") -> User:
    """Create an organisation and its first user, who becomes its admin."""
    organisation_name = organisation_name.strip()
    if not organisation_name:
        raise ValidationError({"organisation_name": "Give your organisation a name."})
    tenant = Tenant.objects.create(name=organisation_name, slug=_unique_slug(organisation_name))
    return _new_user(
        tenant=tenant, username=username, role=User.Role.ADMIN, email=email, password=password
    )


@transaction.atomic
def member_create(
    *,
    tenant: Tenant,
    username: str,
    password: str,
    role: str = User.Role.MEMBER,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
) -> User:
    """Create an active member with a password the admin hands over."""
    return _new_user(
        tenant=tenant,
        username=username,
        role=role,
        email=email,
        first_name=first_name,
        last_name=last_name,
        password=password,
    )


def _issue_invitation(*, user: User, invited_by: User | None) -> InviteLink:
    # Any older link for this user stops working: only the newest one is valid.
    Invitation.objects.filter(user=user, accepted_at__isnull=True).delete()
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        tenant_id=user.tenant_id,
        user=user,
        token_hash=selectors.hash_invite_token(token),
        invited_by=invited_by,
        expires_at=timezone.now() + INVITATION_LIFETIME,
    )
    return InviteLink(user=user, invitation=invitation, token=token)


@transaction.atomic
def member_invite(
    *,
    tenant: Tenant,
    invited_by: User,
    username: str,
    role: str = User.Role.MEMBER,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
) -> InviteLink:
    """Create an inactive member and a single-use link for them to set their password."""
    _check_same_tenant(tenant, invited_by)
    user = _new_user(
        tenant=tenant,
        username=username,
        role=role,
        email=email,
        first_name=first_name,
        last_name=last_name,
        password=None,
    )
    return _issue_invitation(user=user, invited_by=invited_by)


@transaction.atomic
def member_invite_reissue(*, member: User, invited_by: User) -> InviteLink:
    """A fresh link for a member who never set a password (the old link stops working)."""
    _check_same_tenant(member.tenant, invited_by)
    if member.has_usable_password():
        raise ValidationError("This member already has a password; an invite is not needed.")
    return _issue_invitation(user=member, invited_by=invited_by)


@transaction.atomic
def invite_accept(*, token: str, password: str) -> User:
    """Set the invitee's password and activate them; the token cannot be used again."""
    invitation = selectors.invitation_get_open(token)
    if invitation is None:
        raise ValidationError("This invitation link is invalid, expired or already used.")
    # Lock the row so two concurrent submissions cannot both accept it.
    invitation = Invitation.objects.select_for_update().select_related("user").get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise ValidationError("This invitation link is invalid, expired or already used.")
    user = invitation.user
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    user.is_active = True
    user.save(update_fields=["password", "is_active"])
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    return user


def _check_same_tenant(tenant: Tenant | None, acting_user: User) -> None:
    if tenant is None or acting_user.tenant_id != tenant.pk:
        # Callers look members up through the acting user's tenant, so this is a bug guard.
        raise PermissionError("acting user does not belong to this organisation")


def _refuse_if_last_admin(member: User, message: str) -> None:
    if (
        member.role == User.Role.ADMIN
        and member.is_active
        and selectors.active_admin_count(member.tenant) <= 1
    ):
        raise ValidationError(message)


@transaction.atomic
def member_update_role(*, member: User, role: str, acting_user: User) -> User:
    _check_same_tenant(member.tenant, acting_user)
    if role not in User.Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    if role == member.role:
        return member
    if role != User.Role.ADMIN:
        _refuse_if_last_admin(
            member, "An organisation needs at least one active admin; promote someone else first."
        )
    member.role = role
    member.save(update_fields=["role"])
    label = User.Role(role).label
    events.publish(
        events.user_group(member.pk),
        "notify",
        {"message": f"Your role is now: {label}.", "level": "info"},
    )
    return member


@transaction.atomic
def member_update(
    *,
    member: User,
    acting_user: User,
    role: str | None = None,
    email: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
) -> User:
    """Change a member's profile fields and/or role; ``None`` leaves a field as it is."""
    _check_same_tenant(member.tenant, acting_user)
    changed = []
    for field, value in (("email", email), ("first_name", first_name), ("last_name", last_name)):
        if value is not None and getattr(member, field) != value:
            setattr(member, field, value)
            changed.append(field)
    if changed:
        member.full_clean(exclude=["password"], validate_unique=False)
        member.save(update_fields=changed)
    if role is not None:
        member_update_role(member=member, role=role, acting_user=acting_user)
    return member


@transaction.atomic
def member_deactivate(*, member: User, acting_user: User) -> User:
    """Stop a member from signing in; their searches and feedback stay.

    The last active admin cannot be deactivated, by themselves or anyone: the organisation
    would be left with nobody to manage it.
    """
    _check_same_tenant(member.tenant, acting_user)
    if not member.is_active and not member.invitations.filter(accepted_at__isnull=True).exists():
        return member
    _refuse_if_last_admin(
        member, "You cannot deactivate the last active admin of the organisation."
    )
    member.is_active = False
    member.save(update_fields=["is_active"])
    # Sessions die with is_active (the auth backend checks it); tokens and open invites go now.
    Token.objects.filter(user=member).delete()
    Invitation.objects.filter(user=member, accepted_at__isnull=True).delete()
    return member


@transaction.atomic
def member_reactivate(*, member: User, acting_user: User) -> User:
    _check_same_tenant(member.tenant, acting_user)
    if not member.has_usable_password():
        raise ValidationError(
            "This member never set a password; send them a new invite link instead."
        )
    if not member.is_active:
        member.is_active = True
        member.save(update_fields=["is_active"])
    return member


def user_token_get_or_create(*, user: User) -> Token:
    """The user's API token (one per user; deactivation deletes it)."""
    token, _ = Token.objects.get_or_create(user=user)
    return token
