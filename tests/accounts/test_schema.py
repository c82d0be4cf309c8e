"""The OpenAPI schema generates without warnings or errors and validates."""

from __future__ import annotations

import pytest
from django.urls import reverse
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema


def test_schema_generates_without_warnings_and_validates():
    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    warnings = dict(GENERATOR_STATS._warn_cache)
    errors = dict(GENERATOR_STATS._error_cache)
    GENERATOR_STATS.reset()
    assert not errors, "schema errors:\n" + "\n".join(errors)
    assert not warnings, "schema warnings:\n" + "\n".join(warnings)
    validate_schema(schema)  # raises on an invalid OpenAPI document
    paths = schema["paths"]
    for path in ("/api/auth/token/", "/api/me/", "/api/members/", "/api/members/{id}/"):
        assert path in paths, f"{path} missing from the schema"
    assert set(paths["/api/members/{id}/"]) >= {"get", "patch", "delete"}
    assert "TokenAuth" in str(schema["components"].get("securitySchemes", {})) or schema[
        "components"
    ].get("securitySchemes"), "token auth is documented"


@pytest.mark.django_db
def test_schema_and_docs_are_served(client):
    assert client.get(reverse("api-schema")).status_code == 200
    assert client.get(reverse("api-docs")).status_code == 200
