"""Reads of feedback, w, heads and training jobs. Every lookup names the tenant.

Feedback is a person's own: only its author sees it. Heads and jobs are visible to their
user and to that user's tenant admins (who can roll a head back); anyone else gets the same
404 as for an id that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import BigIntegerField, Count, F, Max, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from accounts.models import User
from personalization.models import Feedback, PersonalHead, PersonalizationSettings, TrainingJob


def _tenant_id(user: Any) -> int:
    if user is None or getattr(user, "tenant_id", None) is None:
        raise Http404("No organisation.")
    return int(user.tenant_id)


# --- who may look at whose personalization ---------------------------------------------


def managed_user_get(*, viewer: Any, user_id: Any) -> User:
    """``viewer`` themself, or (for a tenant admin) a user of the same tenant; else 404."""
    tenant_id = _tenant_id(viewer)
    try:
        user_id = int(user_id)
    except (TypeError, ValueError) as exc:
        raise Http404("No such user.") from exc
    if user_id == viewer.pk:
        return viewer
    if not viewer.is_tenant_admin:
        raise Http404("No such user.")
    user = User.objects.filter(tenant_id=tenant_id, pk=user_id).first()
    if user is None:
        raise Http404("No such user.")
    return user


def _visible(queryset: QuerySet, viewer: Any) -> QuerySet:
    queryset = queryset.for_tenant(_tenant_id(viewer))
    return queryset if viewer.is_tenant_admin else queryset.filter(user=viewer)


# --- feedback ----------------------------------------------------------------------------


def feedback_list(*, user: Any, query_id: int | None = None) -> QuerySet[Feedback]:
    """The user's live (not withdrawn) feedback, newest first."""
    rows = Feedback.objects.for_tenant(_tenant_id(user)).filter(user=user, withdrawn_at=None)
    if query_id is not None:
        rows = rows.filter(query_id=query_id)
    return rows.select_related("result").order_by("-id")


def feedback_get(*, user: Any, pk: Any) -> Feedback:
    return (
        Feedback.objects.for_tenant(_tenant_id(user))
        .filter(user=user)
        .get_for_tenant_or_404(user.tenant_id, pk=pk)
    )


def training_feedback(*, user: Any) -> QuerySet[Feedback]:
    """Live "this is the photo I meant" marks: what eq. 9 is built from."""
    return (
        Feedback.objects.for_tenant(_tenant_id(user))
        .filter(user=user, withdrawn_at=None, kind=Feedback.Kind.MATCH)
        .select_related("result", "query")
    )


@dataclass(frozen=True)
class TaughtQuery:
    """A query the user's live marks answered: what closeness compares a new search with."""

    query_id: int
    vector: np.ndarray  # general vector as the query was asked (before expansion)
    kind: str  # "sketch" or "photo" (more like this)
    image_ids: tuple[int, ...]  # the photos marked on it
    first_feedback_id: int = 0  # its oldest live mark (a head trained up to it knows it)
    like_query_id: int | None = None  # the earlier query the user said it is like


def taught_queries(*, user: Any, model_version: str, limit: int) -> list[TaughtQuery]:
    """The queries of the user's ``limit`` newest live marks, embedded with ``model_version``
    (vectors of two model versions are never compared), newest first."""
    from retrieval.models import SketchQuery

    marks = (
        training_feedback(user=user)
        .filter(result__isnull=False, query__model_version=model_version)
        .order_by("-id")
        .values_list("id", "query_id", "result__image_id")[: max(int(limit), 0)]
    )
    images: dict[int, list[int]] = {}
    first_mark: dict[int, int] = {}
    for mark_id, query_id, image_id in marks:
        images.setdefault(int(query_id), []).append(int(image_id))
        first_mark[int(query_id)] = min(int(mark_id), first_mark.get(int(query_id), int(mark_id)))
    rows = (
        SketchQuery.objects.for_tenant(_tenant_id(user))
        .filter(user=user, pk__in=list(images), vector__isnull=False)
        .values_list("pk", "vector", "source_image_id", "strokes", "sketch_image", "like_query_id")
    )
    found = {}
    for pk, vector, source_image_id, strokes, picture, like_query_id in rows:
        is_photo = source_image_id is not None or (strokes is None and picture.endswith(".jpg"))
        found[pk] = TaughtQuery(
            query_id=pk,
            vector=np.frombuffer(bytes(vector), dtype=np.float32),
            kind="photo" if is_photo else "sketch",
            image_ids=tuple(dict.fromkeys(images[pk])),
            first_feedback_id=first_mark[pk],
            like_query_id=like_query_id,
        )
    return [found[pk] for pk in images if pk in found]


def feedback_watermark(*, user: Any) -> int:
    """Highest feedback id the user's latest head (ready, failed or training) was built on."""
    head = (
        PersonalHead.objects.for_tenant(_tenant_id(user))
        .filter(user=user)
        .order_by("-version")
        .values_list("feedback_watermark", flat=True)
        .first()
    )
    return int(head or 0)


def new_feedback_sketches(*, user: Any) -> int:
    """How many sketches got a live photo mark since the user's latest head."""
    return (
        training_feedback(user=user)
        .filter(id__gt=feedback_watermark(user=user))
        .values("query_id")
        .distinct()
        .count()
    )


def users_due_for_training(*, threshold: int) -> list[tuple[int, int]]:
    """(tenant id, user id) of every user with ``threshold`` or more new feedback sketches
    and no open job. A system-wide scan for the scheduler: it reads ids only, and each user
    is then handled through the tenant-scoped services."""
    latest_mark = (
        PersonalHead.objects.filter(user_id=OuterRef("user_id"))
        .order_by("-version")
        .values("feedback_watermark")[:1]
    )
    open_jobs = TrainingJob.objects.filter(state__in=TrainingJob.OPEN_STATES).values("user_id")
    rows = (
        Feedback.objects.filter(withdrawn_at=None, kind=Feedback.Kind.MATCH)
        .exclude(user_id__in=open_jobs)
        .annotate(mark=Coalesce(Subquery(latest_mark), Value(0), output_field=BigIntegerField()))
        .filter(id__gt=F("mark"))
        .values("tenant_id", "user_id")
        .annotate(sketches=Count("query_id", distinct=True))
        .filter(sketches__gte=max(int(threshold), 1))
        .order_by("user_id")
    )
    return [(row["tenant_id"], row["user_id"]) for row in rows]


# --- w -----------------------------------------------------------------------------------


def personal_weight_for(*, user: Any) -> float:
    """The user's stored w, or the site default when they never set one."""
    if getattr(user, "tenant_id", None) is None:
        return float(settings.PSBIR_DEFAULT_PERSONAL_WEIGHT)
    stored = (
        PersonalizationSettings.objects.for_tenant(user.tenant_id)
        .filter(user=user)
        .values_list("personal_weight", flat=True)
        .first()
    )
    return float(settings.PSBIR_DEFAULT_PERSONAL_WEIGHT if stored is None else stored)


# --- heads -------------------------------------------------------------------------------


def active_head(*, user: Any) -> PersonalHead | None:
    if getattr(user, "tenant_id", None) is None:
        return None
    return (
        PersonalHead.objects.for_tenant(user.tenant_id)
        .filter(user=user, is_active=True, status=PersonalHead.Status.READY)
        .first()
    )


def head_list(*, user: Any) -> QuerySet[PersonalHead]:
    """Every head of ``user`` (already checked with :func:`managed_user_get`), newest first."""
    return PersonalHead.objects.for_tenant(_tenant_id(user)).filter(user=user).order_by("-version")


def head_get(*, viewer: Any, pk: Any) -> PersonalHead:
    return _visible(PersonalHead.objects.select_related("user"), viewer).get_for_tenant_or_404(
        viewer.tenant_id, pk=pk
    )


def next_head_version(*, user: Any) -> int:
    top = head_list(user=user).aggregate(top=Max("version"))["top"]
    return int(top or 0) + 1


# --- training jobs -----------------------------------------------------------------------


def job_list(*, user: Any) -> QuerySet[TrainingJob]:
    return (
        TrainingJob.objects.for_tenant(_tenant_id(user))
        .filter(user=user)
        .select_related("head")
        .order_by("-id")
    )


def job_get(*, viewer: Any, pk: Any) -> TrainingJob:
    return _visible(TrainingJob.objects.select_related("head"), viewer).get_for_tenant_or_404(
        viewer.tenant_id, pk=pk
    )


def open_job(*, user: Any) -> TrainingJob | None:
    return job_list(user=user).filter(state__in=TrainingJob.OPEN_STATES).first()


def latest_job(*, user: Any) -> TrainingJob | None:
    return job_list(user=user).first()


def tenant_people(*, viewer: Any) -> QuerySet[User]:
    """The admin's tenant members with their head counts (for the admin overview)."""
    return (
        User.objects.filter(tenant_id=_tenant_id(viewer))
        .annotate(head_count=Count("personal_heads", distinct=True))
        .order_by("username")
    )


def panel_status(*, user: Any) -> dict[str, Any]:
    """w, the serving head, feedback since it and the latest job: the search-page panel."""
    head = active_head(user=user)
    return {
        "personal_weight": personal_weight_for(user=user),
        "active_version": head.version if head is not None else None,
        "new_feedback_sketches": new_feedback_sketches(user=user),
        # "Train now" needs at least one live mark (the API refuses it otherwise).
        "has_marks": training_feedback(user=user).exists(),
        "threshold": int(settings.PSBIR_FEEDBACK_THRESHOLD),
        "job": latest_job(user=user),
    }


def settings_for(*, user: Any) -> dict[str, Any]:
    default = float(settings.PSBIR_DEFAULT_PERSONAL_WEIGHT)
    stored = (
        PersonalizationSettings.objects.for_tenant(_tenant_id(user))
        .filter(user=user)
        .values_list("personal_weight", flat=True)
        .first()
    )
    return {
        "personal_weight": default if stored is None else float(stored),
        "default_weight": default,
        "is_default": stored is None,
    }


def tenant_active_heads(*, viewer: Any) -> QuerySet[PersonalHead]:
    return PersonalHead.objects.for_tenant(_tenant_id(viewer)).filter(is_active=True)
