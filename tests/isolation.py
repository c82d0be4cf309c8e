"""The tenant-isolation registry: every URL of the project is in it, or the matrix fails.

``tests/test_isolation_matrix.py`` walks every pattern of the root URLconf. Each one must be
registered here as exactly one of:

* an **object route** (anything addressing one tenant-owned thing, usually ``<int:pk>``):
  the matrix creates the object in tenant A, then checks that tenant B's admin *and* member
  get exactly 404 for every listed method, that the object survived B's attempts, that tenant
  A's owner gets 2xx/3xx, that an anonymous caller is refused, and, for ``role="admin"``
  routes, that tenant A's plain member gets 403;
* a **collection route** (a list, a page, a create endpoint): the matrix creates one object in
  each tenant and checks that B's listing shows B's object and never A's;
* a **create route** (POST-only, makes something in the caller's tenant): the matrix posts as
  tenant B with ``tenant``/``tenant_id`` of A smuggled into the body and checks that B's count
  went up by one and A's did not move; members get 403 on ``role="admin"`` routes;
* a **public route** (login, schema, health...) with the reason it needs no tenant check.

Where to register: put the calls in ``tests/<your_app>/isolation_routes.py``. The matrix
imports every ``tests/**/isolation_routes.py`` before it collects, so registrations are
there whether the whole suite runs or only the matrix. Typical one-liners::

    from tests.isolation import register_object_route, register_collection_route, allow_public

    register_object_route(
        "retrieval-api:library-detail",
        factory=lambda tenant, user: make_library(tenant),
        methods=["get", "patch", "delete"],
        role="admin",                       # member of A gets 403; admin of A is the owner
        data={"patch": {"name": "renamed"}},  # request bodies per method (JSON for /api/)
    )
    register_collection_route(
        "retrieval-api:library-list",
        factory=lambda tenant, user: make_library(tenant, name=f"{tenant.slug} lib"),
    )
    register_create_route(
        "retrieval-api:library-create",
        data=lambda: {"name": f"lib-{uuid4().hex[:6]}"},   # fresh body per call
        count=lambda tenant: ImageLibrary.objects.for_tenant(tenant).count(),
        role="admin",
    )
    allow_public("retrieval:media-demo", "static demo image, same for everyone")

Factory contract: ``factory(tenant, user)`` creates the thing *in that tenant*, owned by
``user`` when ownership matters (``user`` is A's admin for ``role="admin"`` routes, A's member
otherwise; for collection routes also B's), and returns it. Object routes build their URL
kwargs from the returned object with ``kwargs`` (default ``{"pk": obj.pk}``); a route whose
kwargs are not the pk passes e.g. ``kwargs=lambda obj: {"library_pk": obj.library_id, "pk":
obj.pk}``. Collection routes find objects in the response with ``contains(response, obj)``:
by default a JSON list (or ``{"results": [...]}``) item whose ``"id"`` equals ``obj.pk``, or,
for HTML, ``str(obj)`` in the page, so give factory objects names that include the tenant slug.

Names are the namespaced URL names (``"app-namespace:name"``). A whole namespace can be made
public with ``allow_public("admin:*", reason)``.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

Factory = Callable[[Any, Any], Any]
Contains = Callable[[Any, Any], bool]

WRITE_METHODS = ("post", "put", "patch", "delete")
ROLES = ("member", "admin")


@dataclass(frozen=True)
class ObjectRoute:
    name: str
    factory: Factory
    methods: tuple[str, ...] = ("get",)
    role: str = "member"
    kwargs: Callable[[Any], dict[str, Any]] = field(default=lambda obj: {"pk": obj.pk})
    data: Mapping[str, Any] = field(default_factory=dict)
    # Statuses the owner may get besides 2xx/3xx (e.g. 409 for "already running").
    owner_ok: tuple[int, ...] = ()


@dataclass(frozen=True)
class CollectionRoute:
    name: str
    factory: Factory
    role: str = "member"
    contains: Contains | None = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CreateRoute:
    name: str
    data: Callable[[], Mapping[str, Any]]
    count: Callable[[Any], int]
    role: str = "member"
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PublicRoute:
    name: str
    reason: str


OBJECT_ROUTES: dict[str, ObjectRoute] = {}
COLLECTION_ROUTES: dict[str, CollectionRoute] = {}
CREATE_ROUTES: dict[str, CreateRoute] = {}
PUBLIC_ROUTES: dict[str, PublicRoute] = {}


def _check_new(name: str) -> None:
    for registry in (OBJECT_ROUTES, COLLECTION_ROUTES, CREATE_ROUTES, PUBLIC_ROUTES):
        if name in registry:
            raise ValueError(f"route {name!r} is registered twice")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")


def register_object_route(
    name: str,
    *,
    factory: Factory,
    methods: Iterable[str] = ("get",),
    role: str = "member",
    kwargs: Callable[[Any], dict[str, Any]] | None = None,
    data: Mapping[str, Any] | None = None,
    owner_ok: Iterable[int] = (),
) -> ObjectRoute:
    """Register a route addressing one tenant-owned object (see the module docstring)."""
    _check_new(name)
    _check_role(role)
    methods = tuple(m.lower() for m in methods)
    unknown = set(methods) - {"get", "head", *WRITE_METHODS}
    if not methods or unknown:
        raise ValueError(f"{name}: methods must be HTTP verbs, got {methods}")
    route = ObjectRoute(
        name=name,
        factory=factory,
        methods=methods,
        role=role,
        kwargs=kwargs or (lambda obj: {"pk": obj.pk}),
        data=dict(data or {}),
        owner_ok=tuple(owner_ok),
    )
    OBJECT_ROUTES[name] = route
    return route


def register_collection_route(
    name: str,
    *,
    factory: Factory,
    role: str = "member",
    contains: Contains | None = None,
    kwargs: Mapping[str, Any] | None = None,
) -> CollectionRoute:
    """Register a list/page route: B's GET must show B's object and never A's."""
    _check_new(name)
    _check_role(role)
    route = CollectionRoute(
        name=name, factory=factory, role=role, contains=contains, kwargs=dict(kwargs or {})
    )
    COLLECTION_ROUTES[name] = route
    return route


def register_create_route(
    name: str,
    *,
    data: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
    count: Callable[[Any], int],
    role: str = "member",
    kwargs: Mapping[str, Any] | None = None,
) -> CreateRoute:
    """Register a POST-only route that creates something in the caller's tenant.

    ``data`` is the valid request body (a callable when it must be fresh per call, e.g. a
    unique name); ``count(tenant)`` counts the created kind of object in ``tenant``.
    """
    _check_new(name)
    _check_role(role)
    make_data = data if callable(data) else (lambda: dict(data))
    route = CreateRoute(
        name=name, data=make_data, count=count, role=role, kwargs=dict(kwargs or {})
    )
    CREATE_ROUTES[name] = route
    return route


def allow_public(name: str, reason: str) -> PublicRoute:
    """Exempt a route (or ``"namespace:*"``) from tenant checks; say why in ``reason``."""
    _check_new(name)
    if not reason.strip():
        raise ValueError(f"{name}: give the reason it needs no tenant check")
    route = PublicRoute(name=name, reason=reason)
    PUBLIC_ROUTES[name] = route
    return route


def is_public(name: str) -> bool:
    if name in PUBLIC_ROUTES:
        return True
    namespace = name.rpartition(":")[0]
    while namespace:
        if f"{namespace}:*" in PUBLIC_ROUTES:
            return True
        namespace = namespace.rpartition(":")[0]
    return False


def is_registered(name: str) -> bool:
    return (
        name in OBJECT_ROUTES
        or name in COLLECTION_ROUTES
        or name in CREATE_ROUTES
        or is_public(name)
    )


# --- Discovering registrations ------------------------------------------------------------

_TESTS_DIR = Path(__file__).resolve().parent
_loaded = False


def load_registrations() -> None:
    """Import every ``tests/**/isolation_routes.py`` once (they call the register functions)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for path in sorted(_TESTS_DIR.rglob("isolation_routes.py")):
        relative = path.relative_to(_TESTS_DIR.parent).with_suffix("")
        importlib.import_module(".".join(relative.parts))


# --- Walking the URLconf ------------------------------------------------------------------


@dataclass(frozen=True)
class UrlRoute:
    name: str | None  # "namespace:name", or None for an unnamed pattern
    namespace: str  # "" at the root
    pattern: str  # the full pattern, for messages
    params: frozenset[str]  # path parameters (converters or regex groups) along the way


def _params_of(pattern: Any) -> set[str]:
    converters = getattr(pattern, "converters", None)
    if converters:
        return set(converters)
    regex = getattr(pattern, "regex", None)
    return set(regex.groupindex) if regex is not None else set()


def iter_url_routes(
    resolver: URLResolver | None = None,
    namespace: str = "",
    prefix: str = "",
    params: frozenset[str] = frozenset(),
) -> Iterator[UrlRoute]:
    """Every endpoint of the URLconf, depth first, with its namespaced name."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        entry_params = params | _params_of(entry.pattern)
        full = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            child_ns = namespace
            if entry.namespace:
                child_ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from iter_url_routes(entry, child_ns, full, frozenset(entry_params))
        elif isinstance(entry, URLPattern):
            name = None
            if entry.name:
                name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield UrlRoute(
                name=name, namespace=namespace, pattern=full, params=frozenset(entry_params)
            )


# --- Helpers the matrix uses --------------------------------------------------------------


def response_json(response: Any) -> Any:
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None


def default_contains(response: Any, obj: Any) -> bool:
    """JSON: an item of the top-level list (or ``results``) has ``id == obj.pk``. HTML: str(obj)."""
    content_type = response.get("Content-Type", "")
    if "json" in content_type:
        data = response_json(response)
        if isinstance(data, dict) and isinstance(data.get("results"), list):
            data = data["results"]
        if not isinstance(data, list):
            raise AssertionError(
                "collection response is not a JSON list; register the route with contains=..."
            )
        return any(isinstance(item, dict) and item.get("id") == obj.pk for item in data)
    return str(obj) in response.content.decode(errors="replace")
