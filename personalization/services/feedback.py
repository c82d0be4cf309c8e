"""Marking the photos a user meant on a stored query, and withdrawing marks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from personalization import selectors
from personalization.models import Feedback
from retrieval.models import SearchResult, SketchQuery

MAX_MARKS_PER_CALL = 200


def _own_query(user: Any, query_id: Any) -> SketchQuery:
    # The query must be the caller's own: a colleague's query is the same 404 as none.
    return (
        SketchQuery.objects.for_tenant(user.tenant_id)
        .filter(user=user)
        .select_for_update()
        .get_for_tenant_or_404(user.tenant_id, pk=query_id)
    )


def _withdraw(rows: Any) -> int:
    return rows.update(withdrawn_at=timezone.now())


@transaction.atomic
def feedback_create(
    *,
    user: Any,
    query_id: Any,
    result_ids: Sequence[int] = (),
    none_of_these: bool = False,
) -> list[Feedback]:
    """Mark ``result_ids`` of the query as the photos meant, or say "none of these".

    The two exclude each other on one query: marking photos withdraws a live "none of
    these", and "none of these" withdraws the live marks. Marking a photo twice is a no-op.
    Returns the query's live feedback after the change.
    """
    result_ids = sorted({int(r) for r in result_ids})
    if none_of_these == bool(result_ids):
        raise ValidationError(
            {"result_ids": "Mark one or more photos, or say that none of them is right."}
        )
    if len(result_ids) > MAX_MARKS_PER_CALL:
        raise ValidationError({"result_ids": f"At most {MAX_MARKS_PER_CALL} photos at once."})
    query = _own_query(user, query_id)
    live = Feedback.objects.for_tenant(user.tenant_id).filter(
        user=user, query=query, withdrawn_at=None
    )

    if none_of_these:
        _withdraw(live.filter(kind=Feedback.Kind.MATCH))
        if not live.filter(kind=Feedback.Kind.NONE).exists():
            Feedback.objects.create(
                tenant_id=user.tenant_id, user=user, query=query, kind=Feedback.Kind.NONE
            )
    else:
        results = list(
            SearchResult.objects.for_tenant(user.tenant_id).filter(query=query, pk__in=result_ids)
        )
        if len(results) != len(result_ids):
            raise ValidationError({"result_ids": "Those are not results of this search."})
        _withdraw(live.filter(kind=Feedback.Kind.NONE))
        marked = set(live.filter(kind=Feedback.Kind.MATCH).values_list("result_id", flat=True))
        Feedback.objects.bulk_create(
            Feedback(
                tenant_id=user.tenant_id,
                user=user,
                query=query,
                result=result,
                kind=Feedback.Kind.MATCH,
            )
            for result in results
            if result.pk not in marked
        )
    return list(selectors.feedback_list(user=user, query_id=query.pk))


@transaction.atomic
def feedback_withdraw(*, user: Any, feedback_id: Any) -> Feedback:
    """Withdraw one of the user's own marks (withdrawing twice is a no-op)."""
    feedback = selectors.feedback_get(user=user, pk=feedback_id)
    if feedback.withdrawn_at is None:
        feedback.withdrawn_at = timezone.now()
        feedback.save(update_fields=["withdrawn_at"])
    return feedback


@transaction.atomic
def feedback_forget(*, user: Any, query_id: Any = None, session_id: Any = None) -> int:
    """Withdraw all of the user's live feedback on one of their queries (``query_id``) or on
    every query of one of their sessions (``session_id``); the next search no longer uses it
    (neither its marks nor, near that query, the personal model) and the next training does
    not see it. Returns how many marks were withdrawn. Someone else's query or session is a
    404, like one that does not exist."""
    from retrieval.models import SearchSession

    if (query_id is None) == (session_id is None):
        raise ValidationError(
            {"query_id": "Name one search (query_id) or one session (session_id)."}
        )
    live = Feedback.objects.for_tenant(user.tenant_id).filter(user=user, withdrawn_at=None)
    if query_id is not None:
        query = _own_query(user, query_id)
        return _withdraw(live.filter(query=query))
    session = (
        SearchSession.objects.for_tenant(user.tenant_id)
        .filter(user=user)
        .get_for_tenant_or_404(user.tenant_id, pk=session_id)
    )
    return _withdraw(live.filter(query__session=session))
