"""Template helpers shared by every app's pages: one date style, one way to name a person."""

from __future__ import annotations

import datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.formats import date_format

register = template.Library()


@register.filter
def when(value: datetime.datetime | datetime.date | None, default: str = "") -> str:
    """The one date style of the pages: "Dec. 1, 2026, 7:03 p.m." (a date alone: "Dec. 1, 2026").

    Headings, titles and table cells all use it, so a page never mixes "12/01/2026 7:03 p.m."
    with "Dec. 1, 2026".
    """
    if value in (None, ""):
        return default
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return date_format(value, "DATETIME_FORMAT")
    return date_format(value, "DATE_FORMAT")


@register.filter
def person_name(user: Any) -> str:
    """A person's full name, or their username when they have none (never both the same)."""
    full = (user.get_full_name() or "").strip()
    return full or user.username


@register.filter
def has_other_name(user: Any) -> bool:
    """True when the full name differs from the username, so showing both says something."""
    full = (user.get_full_name() or "").strip()
    return bool(full) and full.casefold() != user.username.casefold()
