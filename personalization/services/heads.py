"""Choosing which of a user's heads serves: roll back to an earlier one, or to none."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from personalization import head_files, selectors
from personalization.models import PersonalHead
from psbir_site import events


def _announce(user_id: int, version: int | None) -> None:
    events.publish(events.user_group(user_id), "personal_head_changed", {"version": version})


@transaction.atomic
def head_activate(*, actor: Any, head_id: Any) -> PersonalHead:
    """Make one ready head the active one (its user, or a tenant admin of that user)."""
    head = selectors.head_get(viewer=actor, pk=head_id)
    if head.status != PersonalHead.Status.READY:
        raise ValidationError({"detail": "Only a finished (ready) model can be used."})
    if head.is_active:
        return head
    if not head.file_path or not head_files.absolute_path(head.file_path).is_file():
        raise ValidationError({"detail": "This model's file is missing; it cannot be used."})
    PersonalHead.objects.for_tenant(head.tenant_id).filter(
        user_id=head.user_id, is_active=True
    ).update(is_active=False)
    head.is_active, head.activated_at = True, timezone.now()
    head.save(update_fields=["is_active", "activated_at"])
    _announce(head.user_id, head.version)
    return head


@transaction.atomic
def head_deactivate_all(*, actor: Any, user_id: Any) -> int:
    """Roll ``user_id`` back to no personalization (general ranking); returns heads changed."""
    user = selectors.managed_user_get(viewer=actor, user_id=user_id)
    changed = (
        PersonalHead.objects.for_tenant(user.tenant_id)
        .filter(user=user, is_active=True)
        .update(is_active=False)
    )
    if changed:
        _announce(user.pk, None)
    return changed
