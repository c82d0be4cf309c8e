"""Isolation-matrix registrations for site-level routes (psbir_site/urls.py), "Your data"
(psbir_site.user_data) among them."""

from __future__ import annotations

import io
import zipfile
from itertools import count
from typing import Any

from accounts.models import Tenant, User
from retrieval.models import SearchSession
from tests.isolation import allow_public, register_collection_route

_n = count(1)


def make_own_session(tenant: Tenant, user: User) -> SearchSession:
    """A session of ``user``'s: what their "Your data" pages and zip must show."""
    return SearchSession.objects.create(
        tenant=tenant, user=user, title=f"{tenant.slug} own session {next(_n)}"
    )


def response_bytes(response: Any) -> bytes:
    """The body, streamed or not; read once and kept (the matrix asks twice)."""
    body = getattr(response, "_isolation_body", None)
    if body is None:
        if getattr(response, "streaming", False):
            body = b"".join(response.streaming_content)
        else:
            body = response.content
        response._isolation_body = body
    return body


def zip_has_session(response: Any, session: SearchSession) -> bool:
    with zipfile.ZipFile(io.BytesIO(response_bytes(response))) as zf:
        return f"sessions/{session.pk}/session.json" in zf.namelist()


# The landing page names the organisation: B's page must never show A's name.
register_collection_route("home", factory=lambda tenant, user: tenant)

allow_public("favicon", "redirect to the static site icon; no data")
allow_public("healthz", "liveness probe; answers {'status': 'ok'} only")
allow_public("api-schema", "the OpenAPI description; no data")
allow_public("api-docs", "Swagger UI over the schema; no data")
allow_public("admin:*", "Django admin: staff only, enforced by django.contrib.admin")

# --- "Your data": pages under /accounts/data/, API /api/me/data/ --------------------------
register_collection_route("accounts:data", factory=make_own_session)
register_collection_route(
    "accounts:data-export", factory=make_own_session, contains=zip_has_session
)
register_collection_route("accounts:data-delete", factory=make_own_session)
register_collection_route(
    "accounts-api:me-data", factory=make_own_session, contains=zip_has_session
)
