"""The API keeps its own contract: schemathesis against the served OpenAPI schema.

Every operation of ``/api/schema/`` is fuzzed through the WSGI app (in-process, on the test
database) with all of schemathesis' checks: no server errors, status codes, content types,
headers and bodies as declared, schema-valid requests accepted and invalid ones refused.
Each operation runs twice, as a member and as an admin of an organisation that has an
indexed library, a session with a query and its results, and a feedback mark.

Bounded for CI: ``MAX_EXAMPLES`` generated cases per operation and role, no shrinking,
Hypothesis' example database off.
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import positive_data_acceptance

from accounts.models import User
from retrieval import engine_runtime, index_store
from tests.retrieval.conftest import add_shapes
from tests.retrieval.fakes import FakeEngine, circle_strokes

MAX_EXAMPLES = 3
# Operations whose valid input depends on stored data the schema cannot describe: a 400 there
# for a schema-valid body is a refusal of the data (results of another search, a username
# taken, a password too weak, a sketch with nothing drawn), not a contract break. Every other
# check still applies to them, and every check to all other operations.
DATA_DEPENDENT = {
    ("POST", "/api/personalization/feedback/"),
    ("POST", "/api/members/"),
    ("POST", "/api/members/invite/"),
    ("POST", "/api/search/"),
}

schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = get_wsgi_application()

# Endpoints that start real work in the background are left out of the fuzzing: they are
# covered by their own tests, and fuzzing them would train models or re-index libraries.
schema = schema.exclude(path_regex=r"^/api/(personalization/training/|libraries/\{id\}/reindex/)$")


@pytest.fixture
def tenant_world(db, settings, tmp_path, tenant_a, member_a, admin_a):
    """One organisation with an indexed library, a session, a query and a feedback mark."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PSBIR_INDEX_DIR = tmp_path / "indexes"
    settings.PSBIR_FEATURE_DIR = tmp_path / "features"
    # Throttles would answer 429 after a few dozen fuzzed searches: declared, but not the
    # contract under test here.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}
    index_store.clear_process_caches()
    engine_runtime.set_engine(FakeEngine())  # type: ignore[arg-type]
    from retrieval.services.libraries import library_create

    add_shapes(library_create(tenant=tenant_a, name="Shapes"))
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(member_a)
    query = client.post("/api/search/", {"strokes": circle_strokes(), "top_k": 3}, format="json")
    assert query.status_code == 201, query.content
    result_id = query.json()["results"][0]["id"]
    client.post(
        "/api/personalization/feedback/",
        {"query_id": query.json()["id"], "result_ids": [result_id]},
        format="json",
    )
    # As Django's test client does (and after its requests here,
    # which reconnect them): the WSGI app must not close the test's connection (its
    # transaction) at the end of each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
    engine_runtime.set_engine(None)
    index_store.clear_process_caches()


@pytest.fixture(params=["member", "admin"])
def auth_headers(request, tenant_world, member_a: User, admin_a: User) -> dict[str, str]:
    user = member_a if request.param == "member" else admin_a
    return {"Authorization": f"Token {Token.objects.get_or_create(user=user)[0].key}"}


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.timeout(120)
@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_api_keeps_its_schema(case, auth_headers):
    response = case.call(headers=auth_headers)
    excluded = []
    if response.status_code == 400 and (case.method, case.path) in DATA_DEPENDENT:
        excluded = [positive_data_acceptance]
    case.validate_response(
        response,
        excluded_checks=excluded,
        headers=auth_headers,
        transport_kwargs={"headers": dict(auth_headers)},
    )
