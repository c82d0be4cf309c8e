"""Pages of the search a user runs: before / after of a stored query ("compare now").

Its URL name stays in retrieval's namespace (``retrieval:query-compare``;
personalization.search_urls), its template is ``retrieval/query_compare.html``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.permissions import tenant_member_required
from personalization.services import compare
from retrieval import selectors
from retrieval.services.queries import SearchUnavailable


def _rows(rows: list[Any], images: dict[int, Any], changes: dict[int, Any]) -> list[dict]:
    return [
        {"row": row, "image": images.get(row.image_id), "change": changes.get(row.image_id)}
        for row in rows
    ]


@tenant_member_required
def query_compare(request: HttpRequest, pk: int) -> HttpResponse:
    from retrieval.engine.errors import ModelNotReadyError, WeightsMissingError

    query = selectors.query_get(user=request.user, pk=pk)
    context: dict[str, Any] = {"query": query, "comparison": None, "problem": ""}
    try:
        comparison = compare.query_compare(user=request.user, query=query)
    except (SearchUnavailable, WeightsMissingError, ModelNotReadyError) as exc:
        context["problem"] = str(exc)
        return render(request, "retrieval/query_compare.html", context)
    ids = {row.image_id for rows in (comparison.then, comparison.now_general) for row in rows}
    ids |= {row.image_id for row in comparison.now_personal}
    images = selectors.images_by_ids(tenant=request.user.tenant_id, ids=sorted(ids))
    changes = {change.image_id: change for change in comparison.changes}
    columns = [
        {
            "key": "then",
            "title": "Then",
            "note": f"stored on {query.created_at:%Y-%m-%d} · w = {query.personal_weight:g}"
            + (
                f" · your model v{query.personal_head_version}"
                if query.personal_head_version
                else " · general model"
            ),
            "rows": _rows(comparison.then, images, changes),
        },
        {
            "key": "general",
            "title": "Now, general model",
            "note": f"model {comparison.model_version} · w = 0",
            "rows": _rows(comparison.now_general, images, changes),
        },
        {
            "key": "personal",
            "title": "Now, personalized",
            "note": (
                f"your model v{comparison.personal_head_version} · "
                f"w = {comparison.personal_weight:g}"
                if comparison.personalized
                else (
                    "no personalized model in use yet: the general list, with your marks"
                    if comparison.memory_marks
                    else "no personalized model in use: the general list"
                )
            ),
            "rows": _rows(comparison.now_personal, images, changes),
        },
    ]
    context.update(
        comparison=comparison,
        columns=columns,
        changes=[(change, images.get(change.image_id)) for change in comparison.changes],
    )
    return render(request, "retrieval/query_compare.html", context)
