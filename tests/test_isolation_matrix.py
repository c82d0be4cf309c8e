"""The tenant-isolation matrix: every URL of the project, checked against a second tenant.

How routes get here, and how to register yours: see ``tests/isolation.py``. This module

1. fails when a URL pattern is in none of the registries (object / collection / public), when
   a route with path parameters is registered as anything but an object route or public, and
   when a registration names a route that does not exist;
2. for each object route and method: tenant B's admin and member get exactly 404 (admin-only
   routes may answer B's member 403 first), the object is unchanged afterwards, an anonymous
   caller is refused, tenant A's member gets 403 on admin-only routes, and A's owner succeeds;
3. for each collection route: each tenant's listing shows its own object and never the other's;
4. for each create route: what tenant B creates lands in B, even with A's id in the body.

The self-tests at the bottom run the same checks against a deliberately leaky URLconf, to
prove the checks can fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.db import models
from django.test import Client
from django.urls import reverse
from django.urls.exceptions import NoReverseMatch

from accounts.models import Tenant, User
from tests.isolation import (
    COLLECTION_ROUTES,
    CREATE_ROUTES,
    OBJECT_ROUTES,
    PUBLIC_ROUTES,
    CollectionRoute,
    CreateRoute,
    ObjectRoute,
    UrlRoute,
    default_contains,
    is_public,
    is_registered,
    iter_url_routes,
    load_registrations,
)

load_registrations()


@dataclass
class Actors:
    tenant_a: Tenant
    tenant_b: Tenant
    admin_a: User
    member_a: User
    admin_b: User
    member_b: User

    def owner(self, role: str) -> User:
        return self.admin_a if role == "admin" else self.member_a

    def b_user(self, role: str) -> User:
        return self.admin_b if role == "admin" else self.member_b


@pytest.fixture
def actors(
    tenant_a: Tenant,
    tenant_b: Tenant,
    admin_a: User,
    member_a: User,
    admin_b: User,
    member_b: User,
) -> Actors:
    return Actors(tenant_a, tenant_b, admin_a, member_a, admin_b, member_b)


def _call(user: User | None, method: str, url: str, data: Any = None) -> Any:
    client = Client()
    if user is not None:
        client.force_login(user)
    send = getattr(client, method)
    if method in ("get", "head"):
        return send(url, data or {})
    if url.startswith("/api/"):
        return send(url, data if data is not None else {}, content_type="application/json")
    if method == "post":
        return send(url, data or {})
    return send(url, data or "", content_type="application/x-www-form-urlencoded")


def _who(user: User | None) -> str:
    return "anonymous" if user is None else f"{user.username} (tenant {user.tenant.slug})"


def _snapshot(obj: Any) -> dict[str, Any] | None:
    """Column values of a model instance as stored now; None if it is gone."""
    if not isinstance(obj, models.Model):
        return {}
    fresh = type(obj)._base_manager.filter(pk=obj.pk).first()
    if fresh is None:
        return None
    return {f.attname: getattr(fresh, f.attname) for f in fresh._meta.concrete_fields}


def _assert_refused_anonymous(response: Any, what: str) -> None:
    if response.status_code == 302:
        login = reverse(settings.LOGIN_URL)
        assert response["Location"].startswith(login), (
            f"{what}: anonymous redirected to {response['Location']}, not to the login page"
        )
        return
    assert response.status_code in (401, 403), (
        f"{what}: anonymous got {response.status_code}; expected 302 to login, 401 or 403"
    )


def check_object_route(route: ObjectRoute, method: str, actors: Actors) -> None:
    owner = actors.owner(route.role)
    obj = route.factory(actors.tenant_a, owner)
    url = reverse(route.name, kwargs=route.kwargs(obj))
    body = route.data.get(method)
    what = f"{method.upper()} {url} ({route.name})"
    before = _snapshot(obj)

    for outsider in (actors.admin_b, actors.member_b):
        response = _call(outsider, method, url, body)
        allowed = {404}
        if route.role == "admin" and outsider.role == User.Role.MEMBER:
            allowed.add(403)  # the role check may answer first; it says nothing about the id
        assert response.status_code in allowed, (
            f"{what}: {_who(outsider)} got {response.status_code} for tenant A's object; "
            f"expected {sorted(allowed)}"
        )
        assert _snapshot(obj) == before, f"{what}: {_who(outsider)} changed tenant A's object"

    if route.role == "admin":
        response = _call(actors.member_a, method, url, body)
        assert response.status_code == 403, (
            f"{what}: admin-only route answered {response.status_code} to A's member; expected 403"
        )
        assert _snapshot(obj) == before, f"{what}: A's member changed an admin-only object"

    _assert_refused_anonymous(_call(None, method, url, body), what)
    assert _snapshot(obj) == before, f"{what}: anonymous changed tenant A's object"

    response = _call(owner, method, url, body)
    ok = 200 <= response.status_code < 400 or response.status_code in route.owner_ok
    assert ok, (
        f"{what}: the owner {_who(owner)} got {response.status_code}; the route must work "
        f"for its own tenant (pass data=... or owner_ok=... when registering). "
        f"Body: {response.content[:300]!r}"
    )


def check_collection_route(route: CollectionRoute, actors: Actors) -> None:
    contains = route.contains or default_contains
    url = reverse(route.name, kwargs=route.kwargs)
    a_user, b_user = actors.owner(route.role), actors.b_user(route.role)
    obj_a = route.factory(actors.tenant_a, a_user)
    obj_b = route.factory(actors.tenant_b, b_user)

    for viewer, own, other in ((b_user, obj_b, obj_a), (a_user, obj_a, obj_b)):
        response = _call(viewer, "get", url)
        assert 200 <= response.status_code < 300, (
            f"GET {url} ({route.name}): {_who(viewer)} got {response.status_code}"
        )
        assert contains(response, own), (
            f"GET {url} ({route.name}): {_who(viewer)} does not see their own object {own!r}; "
            "the check could not tell a leak from an empty page (fix the factory or contains=)"
        )
        assert not contains(response, other), (
            f"GET {url} ({route.name}): {_who(viewer)} sees the other tenant's object {other!r}"
        )

    if route.role == "member":
        # An admin's wider view of their own tenant must still stop at the tenant boundary.
        response = _call(actors.admin_b, "get", url)
        assert response.status_code < 300 and not contains(response, obj_a), (
            f"GET {url} ({route.name}): tenant B's admin sees tenant A's object"
        )
    else:
        response = _call(actors.member_a, "get", url)
        assert response.status_code == 403, (
            f"GET {url} ({route.name}): admin-only listing answered {response.status_code} "
            "to a member; expected 403"
        )

    _assert_refused_anonymous(_call(None, "get", url), f"GET {url} ({route.name})")


def check_create_route(route: CreateRoute, actors: Actors) -> None:
    url = reverse(route.name, kwargs=route.kwargs)
    what = f"POST {url} ({route.name})"
    b_user = actors.b_user(route.role)

    def counts() -> tuple[int, int]:
        return route.count(actors.tenant_a), route.count(actors.tenant_b)

    before = counts()
    _assert_refused_anonymous(_call(None, "post", url, dict(route.data())), what)
    assert counts() == before, f"{what}: anonymous created something"
    if route.role == "admin":
        response = _call(actors.member_b, "post", url, dict(route.data()))
        assert response.status_code == 403, (
            f"{what}: admin-only create answered {response.status_code} to a member"
        )
        assert counts() == before, f"{what}: a member created something on an admin route"

    # The tenant comes from the signed-in user; ids in the body must be ignored.
    body = {**route.data(), "tenant": actors.tenant_a.pk, "tenant_id": actors.tenant_a.pk}
    response = _call(b_user, "post", url, body)
    assert 200 <= response.status_code < 400, (
        f"{what}: {_who(b_user)} got {response.status_code} with a valid body "
        f"(fix data= in the registration). Body: {response.content[:300]!r}"
    )
    a_after, b_after = counts()
    assert a_after == before[0], f"{what}: tenant B's request created an object in tenant A"
    assert b_after == before[1] + 1, (
        f"{what}: expected one new object in tenant B, found {b_after - before[1]}"
    )


# --- 1. Coverage: every route is in the matrix -------------------------------------------


def _key(route: UrlRoute) -> str:
    # Unnamed patterns inside a namespace can still be covered by "namespace:*".
    return route.name or f"{route.namespace}:?"


def coverage_problems(url_routes: list[UrlRoute]) -> list[str]:
    problems = []
    names = set()
    for route in url_routes:
        key = _key(route)
        names.add(key)
        if route.name is None and not is_public(key):
            problems.append(f"{route.pattern}: unnamed route; give it a name and register it")
        elif (key in COLLECTION_ROUTES or key in CREATE_ROUTES) and route.params:
            problems.append(
                f"{key} ({route.pattern}) takes {sorted(route.params)}: register it with "
                "register_object_route (the id in the URL must 404 across tenants)"
            )
        elif not is_registered(key):
            kind = (
                "register_object_route"
                if route.params
                else "register_collection_route / register_create_route"
            )
            problems.append(
                f"{key} ({route.pattern}) is not in the isolation matrix: add {kind}(...) or "
                "allow_public(...) in tests/<app>/isolation_routes.py"
            )
    for name in [*OBJECT_ROUTES, *COLLECTION_ROUTES, *CREATE_ROUTES, *PUBLIC_ROUTES]:
        if not name.endswith(":*") and name not in names:
            problems.append(f"{name} is registered but no such URL exists")
    return problems


def test_every_url_pattern_is_in_the_matrix() -> None:
    problems = coverage_problems(list(iter_url_routes()))
    assert not problems, "Isolation matrix out of date:\n  " + "\n  ".join(problems)


# --- 2. Object routes ---------------------------------------------------------------------

OBJECT_CASES = [
    pytest.param(route, method, id=f"{name}:{method}")
    for name, route in sorted(OBJECT_ROUTES.items())
    for method in route.methods
]


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), OBJECT_CASES)
def test_object_route_is_tenant_scoped(route: ObjectRoute, method: str, actors: Actors) -> None:
    check_object_route(route, method, actors)


# --- 3. Collection routes -----------------------------------------------------------------

COLLECTION_CASES = [
    pytest.param(route, id=name) for name, route in sorted(COLLECTION_ROUTES.items())
]


@pytest.mark.django_db
@pytest.mark.parametrize("route", COLLECTION_CASES)
def test_collection_route_shows_only_own_tenant(route: CollectionRoute, actors: Actors) -> None:
    check_collection_route(route, actors)


# --- 4. Create routes ---------------------------------------------------------------------

CREATE_CASES = [pytest.param(route, id=name) for name, route in sorted(CREATE_ROUTES.items())]


@pytest.mark.django_db
@pytest.mark.parametrize("route", CREATE_CASES)
def test_create_route_creates_in_callers_tenant(route: CreateRoute, actors: Actors) -> None:
    check_create_route(route, actors)


# --- Self-tests: the checks catch leaks ---------------------------------------------------

SELFTEST_URLCONF = "tests.isolation_selftest_urls"


def _count_users(tenant: Tenant) -> int:
    return User.objects.filter(tenant=tenant).count()


def _selftest_member(tenant: Tenant, user: User) -> User:
    return User.objects.create_user(username=f"{tenant.slug}-listed", tenant=tenant)


@pytest.mark.django_db
@pytest.mark.urls(SELFTEST_URLCONF)
@pytest.mark.parametrize(
    ("name", "role", "message"),
    [
        ("selftest:leaky-detail", "member", "got 200 for tenant A's object"),
        ("selftest:leaky-write", "member", "changed tenant A's object"),
        ("selftest:member-can-admin", "admin", "expected 403"),
        ("selftest:open-to-anonymous", "member", "anonymous got 200"),
    ],
)
def test_object_check_fails_on_a_leaky_view(
    name: str, role: str, message: str, actors: Actors
) -> None:
    method = "post" if name.endswith("write") else "get"
    route = ObjectRoute(name=name, factory=_selftest_member, methods=(method,), role=role)
    with pytest.raises(AssertionError, match=message):
        check_object_route(route, method, actors)


@pytest.mark.django_db
@pytest.mark.urls(SELFTEST_URLCONF)
def test_object_check_passes_on_a_scoped_view(actors: Actors) -> None:
    route = ObjectRoute(name="selftest:scoped-detail", factory=_selftest_member)
    check_object_route(route, "get", actors)


@pytest.mark.django_db
@pytest.mark.urls(SELFTEST_URLCONF)
def test_collection_check_fails_on_a_leaky_listing(actors: Actors) -> None:
    route = CollectionRoute(name="selftest:leaky-list", factory=_selftest_member)
    with pytest.raises(AssertionError, match="sees the other tenant's object"):
        check_collection_route(route, actors)


@pytest.mark.django_db
@pytest.mark.urls(SELFTEST_URLCONF)
def test_collection_check_passes_on_a_scoped_listing(actors: Actors) -> None:
    route = CollectionRoute(name="selftest:scoped-list", factory=_selftest_member)
    check_collection_route(route, actors)


@pytest.mark.django_db
@pytest.mark.urls(SELFTEST_URLCONF)
def test_create_check_fails_when_the_body_picks_the_tenant(actors: Actors) -> None:
    route = CreateRoute(
        name="selftest:leaky-create",
        data=dict,
        count=_count_users,
    )
    with pytest.raises(AssertionError, match="created an object in tenant A"):
        check_create_route(route, actors)


@pytest.mark.django_db
@pytest.mark.urls(SELFTEST_URLCONF)
def test_create_check_passes_when_the_tenant_comes_from_the_user(actors: Actors) -> None:
    route = CreateRoute(
        name="selftest:scoped-create",
        data=dict,
        count=_count_users,
    )
    check_create_route(route, actors)


@pytest.mark.urls(SELFTEST_URLCONF)
def test_coverage_reports_unregistered_routes() -> None:
    problems = coverage_problems(list(iter_url_routes()))
    joined = "\n".join(problems)
    assert "selftest:leaky-detail" in joined and "register_object_route" in joined
    assert "selftest:leaky-list" in joined and "register_collection_route" in joined
    assert "unnamed route" in joined


def test_selftest_urlconf_is_not_the_project_urlconf() -> None:
    # Guard against the self-test routes ever being served.
    with pytest.raises(NoReverseMatch):
        reverse("selftest:leaky-detail", kwargs={"pk": 1})
