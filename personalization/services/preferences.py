"""The user's w of eq. 18."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from personalization.engine.scoring import check_weight
from personalization.models import PersonalizationSettings


def validate_weight(value: Any) -> float:
    """w as a float in [0, 1]; ``ValidationError`` on ``personal_weight`` otherwise."""
    if isinstance(value, bool) or value is None or value == "":
        raise ValidationError({"personal_weight": "w must be a number from 0 to 1."})
    try:
        return check_weight(value)
    except ValueError as exc:
        raise ValidationError({"personal_weight": "w must be a number from 0 to 1."}) from exc


@transaction.atomic
def personal_weight_set(*, user: Any, personal_weight: Any) -> PersonalizationSettings:
    weight = validate_weight(personal_weight)
    row, _ = PersonalizationSettings.objects.for_tenant(user.tenant_id).update_or_create(
        user=user, defaults={"personal_weight": weight, "tenant_id": user.tenant_id}
    )
    return row
