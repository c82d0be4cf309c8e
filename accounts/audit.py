"""The audit trail of actions on people's data, kept in Django's admin log (``LogEntry``).

Platform staff read it at ``/admin/admin/logentry/`` (and in each user's "History" in the
Django admin). An entry names who acted (``user``), on whom (the subject user, as
``object_id`` / ``object_repr``, kept as text so the entry outlives a deleted subject's row
reference) and what happened (``change_message``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin.models import CHANGE, DELETION, LogEntry

DATA_EXPORTED = "Exported all their data"
DATA_DELETED = "Deleted all their data"
USER_DELETED = "Deleted the user and all their data"


def _record(*, actor: Any, subject: Any, action_flag: int, message: str) -> LogEntry:
    entries = LogEntry.objects.log_actions(
        user_id=actor.pk,
        queryset=[subject],
        action_flag=action_flag,
        change_message=message[:2000],
        single_object=True,
    )
    return entries if isinstance(entries, LogEntry) else entries[0]


def _by(actor: Any, subject: Any) -> str:
    return "" if actor.pk == subject.pk else f" (by {actor.get_username()})"


def data_exported(*, actor: Any, subject: Any, what: str) -> LogEntry:
    return _record(
        actor=actor,
        subject=subject,
        action_flag=CHANGE,
        message=f"{DATA_EXPORTED}{_by(actor, subject)}: {what}.",
    )


def data_deleted(*, actor: Any, subject: Any, what: str) -> LogEntry:
    return _record(
        actor=actor,
        subject=subject,
        action_flag=CHANGE,
        message=f"{DATA_DELETED}{_by(actor, subject)}: {what}.",
    )


def user_deleted(*, actor: Any, subject: Any, what: str) -> LogEntry:
    """Call before the subject's row is deleted (the entry is made from it)."""
    return _record(
        actor=actor,
        subject=subject,
        action_flag=DELETION,
        message=f"{USER_DELETED}{_by(actor, subject)}: {what}.",
    )
