"""Per-user data inside one organisation: a colleague gets the same 404 as a stranger.

Runs every personalization object route of the isolation matrix with the owner's colleague
(another member of the same tenant) and with the tenant's admin: the colleague must get 404
and change nothing; the admin may look at and roll back heads and jobs (oversight), but never
sees or withdraws a member's feedback.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.isolation import OBJECT_ROUTES, load_registrations
from tests.test_isolation_matrix import _call, _snapshot

load_registrations()

ROUTES = [
    pytest.param(route, method, id=f"{name}:{method}")
    for name, route in sorted(OBJECT_ROUTES.items())
    if name.startswith("personalization")
    for method in route.methods
]
# Routes on heads / jobs / a user's history, which a tenant admin may use for a member.
ADMIN_MAY = ("head", "job", "user-")


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), ROUTES)
def test_colleague_gets_404_and_admin_only_oversight(route, method, tenant_a, member_a, make_user):
    obj = route.factory(tenant_a, member_a)
    url = reverse(route.name, kwargs=route.kwargs(obj))
    body = route.data.get(method)
    before = _snapshot(obj)

    colleague = make_user(tenant_a)
    response = _call(colleague, method, url, body)
    assert response.status_code == 404, f"{method} {url}: colleague got {response.status_code}"
    assert _snapshot(obj) == before

    admin = make_user(tenant_a, role="admin")
    response = _call(admin, method, url, body)
    if route.name.split(":")[1].startswith(ADMIN_MAY):
        assert response.status_code < 400, f"{method} {url}: admin got {response.status_code}"
    else:
        assert response.status_code == 404, f"{method} {url}: admin got {response.status_code}"
        assert _snapshot(obj) == before
