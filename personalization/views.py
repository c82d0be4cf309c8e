"""Pages: a member's personalization dashboard, and the admins' view of their people.

Training, w and feedback are driven from static/js/personalization.js through the REST API;
rolling back (to an earlier head or to none) is a plain form (POST, then redirect).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.permissions import tenant_admin_required, tenant_member_required
from personalization import selectors
from personalization.services import heads

JOBS_SHOWN = 10


def _history_context(user: object) -> dict[str, object]:
    return {
        "person": user,
        "heads": list(selectors.head_list(user=user)),
        "jobs": list(selectors.job_list(user=user)[:JOBS_SHOWN]),
        "status": selectors.panel_status(user=user),
    }


def _back_to(actor: object, user_id: int) -> HttpResponse:
    if user_id == actor.pk:  # type: ignore[attr-defined]
        return redirect("personalization:dashboard")
    return redirect(reverse("personalization:user-history", kwargs={"user_id": user_id}))


@tenant_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    context = _history_context(request.user)
    context["settings"] = selectors.settings_for(user=request.user)
    context["live_marks"] = selectors.training_feedback(user=request.user).count()
    return render(request, "personalization/dashboard.html", context)


@tenant_admin_required
def people(request: HttpRequest) -> HttpResponse:
    rows = selectors.tenant_people(viewer=request.user)
    active = {
        head.user_id: head.version for head in selectors.tenant_active_heads(viewer=request.user)
    }
    return render(
        request,
        "personalization/people.html",
        {"people": [(person, active.get(person.pk)) for person in rows]},
    )


@tenant_member_required
def user_history(request: HttpRequest, user_id: int) -> HttpResponse:
    person = selectors.managed_user_get(viewer=request.user, user_id=user_id)
    if person.pk == request.user.pk:
        return redirect("personalization:dashboard")
    return render(request, "personalization/user_history.html", _history_context(person))


@require_POST
@tenant_member_required
def head_activate(request: HttpRequest, pk: int) -> HttpResponse:
    head = selectors.head_get(viewer=request.user, pk=pk)
    try:
        heads.head_activate(actor=request.user, head_id=head.pk)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Model v{head.version} is now in use.")
    return _back_to(request.user, head.user_id)


@require_POST
@tenant_member_required
def user_deactivate(request: HttpRequest, user_id: int) -> HttpResponse:
    person = selectors.managed_user_get(viewer=request.user, user_id=user_id)
    heads.head_deactivate_all(actor=request.user, user_id=person.pk)
    messages.success(request, "Back to the general model: no personalized model is in use.")
    return _back_to(request.user, person.pk)
