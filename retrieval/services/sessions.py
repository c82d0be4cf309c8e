"""A user's search sessions: groups of sketches with their results, to come back to."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from retrieval.models import SearchSession, SketchQuery


@transaction.atomic
def session_create(*, user: Any, title: str = "") -> SearchSession:
    return SearchSession.objects.create(
        tenant_id=user.tenant_id, user=user, title=title.strip()[:120]
    )


@transaction.atomic
def session_rename(*, session: SearchSession, title: str) -> SearchSession:
    session.title = title.strip()[:120]
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
