"""A user's search sessions: groups of sketches with their results, to come back to."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format

from psbir_site.text import clean_text, printable
from retrieval.models import SearchSession, SketchQuery

TITLE_MAX_LENGTH = 120


def default_title(*, libraries: Sequence[Any] = (), when: datetime | None = None) -> str:
    """A new session's title: its day, in the pages' date style, and the first library.

    "Dec. 1, 2026 · Demo clip art" ("… and 2 more" when it searched more libraries).
    """
    day = date_format(timezone.localtime(when or timezone.now()).date(), "DATE_FORMAT")
    names = [printable(library.name) for library in libraries]  # names from before the rule
    if not names:
        return day
    more = f" and {len(names) - 1} more" if len(names) > 1 else ""
    title = f"{day} · {names[0]}"
    return title[: TITLE_MAX_LENGTH - len(more)] + more


def current_session(*, user: Any) -> SearchSession | None:
    """The user's most recently used session (where a search without ``session`` goes)."""
    return (
        SearchSession.objects.for_tenant(user.tenant_id)
        .filter(user=user)
        .order_by("-updated_at", "-id")
        .first()
    )


@transaction.atomic
def session_create(*, user: Any, title: str = "") -> SearchSession:
    title = clean_text(title, field="title", max_length=TITLE_MAX_LENGTH, allow_blank=True)
    return SearchSession.objects.create(
        tenant_id=user.tenant_id, user=user, title=title or default_title()
    )


@transaction.atomic
def session_rename(*, session: SearchSession, title: str) -> SearchSession:
    session.title = clean_text(title, field="title", max_length=TITLE_MAX_LENGTH, allow_blank=True)
    session.save(update_fields=["title", "updated_at"])
    return session


@transaction.atomic
def session_delete(*, session: SearchSession) -> None:
    """Delete the session with its queries and results (and their stored sketch images)."""
    files = [
        q.sketch_image
        for q in SketchQuery.objects.for_tenant(session.tenant_id).filter(session=session)
        if q.sketch_image
    ]
    session.delete()
    transaction.on_commit(lambda: [f.storage.delete(f.name) for f in files])
