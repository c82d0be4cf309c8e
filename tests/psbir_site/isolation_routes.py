"""Isolation-matrix registrations for site-level routes (psbir_site/urls.py)."""

from tests.isolation import allow_public, register_collection_route

# The landing page names the organisation: B's page must never show A's name.
register_collection_route("home", factory=lambda tenant, user: tenant)

allow_public("favicon", "redirect to the static site icon; no data")
allow_public("healthz", "liveness probe; answers {'status': 'ok'} only")
allow_public("api-schema", "the OpenAPI description; no data")
allow_public("api-docs", "Swagger UI over the schema; no data")
allow_public("admin:*", "Django admin: staff only, enforced by django.contrib.admin")
