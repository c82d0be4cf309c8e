"""Isolation-matrix registrations for personalization (pages and /api/personalization/).

Everything here is per user as well as per tenant; the matrix proves the tenant boundary,
tests/personalization/test_same_tenant.py the boundary between colleagues.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from accounts.models import User
from personalization.models import (
    Feedback,
    PersonalHead,
    PersonalizationSettings,
    TrainingJob,
)
from tests.isolation import (
    allow_public,
    register_collection_route,
    register_create_route,
    register_object_route,
)
from tests.personalization import factories
from tests.retrieval.isolation_routes import make_query


def make_feedback(tenant: Any, user: Any) -> Feedback:
    library = factories.make_library(tenant)
    images = factories.add_images(
        library, np.zeros((2, 512, 8, 8)), [("c", "s")] * 2, store_features=False
    )
    _, results = factories.make_query(user, [library], None, images)
    return factories.mark(user, results[0])


def make_head(tenant: Any, user: Any) -> PersonalHead:
    # Active and ready: activating it again is a no-op the owner may do (no file needed).
    return factories.make_head(user)


def make_job(tenant: Any, user: Any) -> TrainingJob:
    return TrainingJob.objects.create(
        tenant=tenant, user=user, trigger=TrainingJob.Trigger.MANUAL, state="ready"
    )


def make_settings(tenant: Any, user: Any) -> PersonalizationSettings:
    # A weight that differs between the two tenants and from the 0.5 default.
    weight = round(0.1 + (tenant.pk % 4) / 10, 2)
    return PersonalizationSettings.objects.create(tenant=tenant, user=user, personal_weight=weight)


def html_has(marker: str):
    def contains(response: Any, obj: Any) -> bool:
        return marker.format(pk=obj.pk) in response.content.decode(errors="replace")

    return contains


def _training_body() -> dict:
    # The matrix posts as tenant B's member: give them a mark so a job may be queued.
    user = User.objects.get(username="beta-member")
    if not Feedback.objects.filter(user=user).exists():
        make_feedback(user.tenant, user)
    return {}


def _user_kwargs(obj: Any) -> dict:
    return {"user_id": obj.user_id}


# --- API ---------------------------------------------------------------------------------
register_collection_route("personalization-api:feedback-list", factory=make_feedback)
register_object_route(
    "personalization-api:query-feedback-forget",
    factory=lambda tenant, user: make_feedback(tenant, user).query,
    methods=["post"],
)
register_object_route(
    "personalization-api:session-feedback-forget",
    factory=lambda tenant, user: make_feedback(tenant, user).query.session,
    methods=["post"],
)
register_object_route(
    "personalization-api:feedback-detail", factory=make_feedback, methods=["get", "delete"]
)
register_collection_route(
    "personalization-api:settings",
    factory=make_settings,
    contains=lambda response, obj: response.json()["personal_weight"] == obj.personal_weight,
)
register_collection_route(
    "personalization-api:status",
    factory=make_job,
    contains=lambda response, obj: (response.json()["job"] or {}).get("id") == obj.pk,
)
register_create_route(
    "personalization-api:training",
    data=_training_body,
    count=lambda tenant: TrainingJob.objects.for_tenant(tenant).count(),
)
register_collection_route("personalization-api:job-list", factory=make_job)
register_object_route("personalization-api:job-detail", factory=make_job)
register_collection_route("personalization-api:head-list", factory=make_head)
register_object_route("personalization-api:head-detail", factory=make_head)
register_object_route("personalization-api:head-activate", factory=make_head, methods=["post"])
register_object_route("personalization-api:user-heads", factory=make_head, kwargs=_user_kwargs)
register_object_route(
    "personalization-api:user-deactivate",
    factory=make_head,
    methods=["post"],
    kwargs=_user_kwargs,
)

# --- Pages -------------------------------------------------------------------------------
register_collection_route(
    "personalization:dashboard", factory=make_head, contains=html_has('data-head-id="{pk}"')
)
register_collection_route(
    "personalization:people",
    factory=lambda tenant, user: factories_member(tenant),
    role="admin",
    contains=html_has('data-user-id="{pk}"'),
)
register_object_route("personalization:user-history", factory=make_head, kwargs=_user_kwargs)
register_object_route(
    "personalization:user-deactivate", factory=make_head, methods=["post"], kwargs=_user_kwargs
)
register_object_route("personalization:head-activate", factory=make_head, methods=["post"])


def factories_member(tenant: Any) -> User:
    return User.objects.create_user(
        username=f"{tenant.slug}-pz-{User.objects.count() + 1}", password="x", tenant=tenant
    )


# --- The search a user runs (personalization.search_urls, in retrieval's namespaces) --------
allow_public(
    "retrieval-api:search",
    "POST only and needs an indexed library and the engine, which the matrix cannot set up; "
    "its tenant scoping (foreign library ids are unknown, foreign sessions 404, queries land "
    "in the caller's tenant) is tested in tests/retrieval/test_isolation.py",
)
# The matrix's queries searched no library: the owner's compare answers 409 ("nothing to
# search") without building the engine; the page says the same with a 200.
register_object_route("retrieval-api:query-compare", factory=make_query, owner_ok=[409])
register_object_route("retrieval:query-compare", factory=make_query)
