"""Project-wide fixtures. Names are stable: other apps' tests use them.

Organisations and people (two tenants, so every test can prove isolation):

    tenant_a, tenant_b           Tenant "Alpha Optics" (slug alpha-optics), "Beta Botanics"
    admin_a, member_a            admin / member of tenant A  (usernames alpha-admin, alpha-member)
    admin_b, member_b            admin / member of tenant B  (beta-admin, beta-member)
    superuser                    platform superuser without a tenant (Django admin only)
    make_user                    factory: make_user(tenant, role="member", username=None, **fields)
    TEST_PASSWORD                every fixture user's password (import from tests.conftest)

Clients (Django test client logged in through the session; CSRF checks off, as Django's
test client does by default):

    client_a                     member_a          client_admin_a     admin_a
    client_b                     member_b          client_admin_b     admin_b
    anon_client                  nobody signed in

DRF clients authenticated with a real API token (``Authorization: Token ...``):

    api_client_a                 member_a          api_client_admin_a admin_a
    api_client_b                 member_b          api_client_admin_b admin_b

Test-wide settings: fast MD5 password hashing. The database cache table (the login
throttle's store on the embedded default) is created by ``migrate`` itself (accounts.apps).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import count
from typing import Any

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import Tenant, User

TEST_PASSWORD = "correct horse battery staple 42"

_usernames = count(1)


def pytest_configure(config: pytest.Config) -> None:
    # WhiteNoise warns once per client when STATIC_ROOT was never collected; tests serve
    # static files through the finders (DEBUG), so the warning is noise here.
    config.addinivalue_line("filterwarnings", "ignore:No directory at:UserWarning")


@pytest.fixture(autouse=True)
def _private_data_dirs(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    # Media, indexes and conv5 caches of a test never land in the developer's var/ (which the
    # running demo uses); the converted VGG weights in PSBIR_MODEL_DIR are shared read-only.
    root = tmp_path_factory.mktemp("psbir-data")
    settings.MEDIA_ROOT = root / "media"
    settings.PSBIR_INDEX_DIR = root / "indexes"
    settings.PSBIR_FEATURE_DIR = root / "features"
    settings.PSBIR_PERSONAL_HEAD_DIR = root / "personal-heads"


@pytest.fixture(autouse=True)
def _fresh_cache(request: pytest.FixtureRequest) -> None:
    # Throttle counters live in the cache; the database cache rolls back with each test, a
    # Redis cache (scale-out profile) does not, so every test starts from an empty one.
    if "db" in request.fixturenames or "transactional_db" in request.fixturenames:
        from django.core.cache import cache

        cache.clear()


@pytest.fixture(autouse=True)
def _events_through_outbox(request: pytest.FixtureRequest, settings: Any) -> None:
    # Tests read published events back from the outbox table, whichever profile runs them;
    # tests marked ``event_path`` use the profile's real path (outbox, or channels-redis).
    if request.node.get_closest_marker("event_path") is None:
        settings.PSBIR_EVENTS_VIA_OUTBOX = True


@pytest.fixture
def q_sync(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """django-q2 runs tasks in-process, at once."""
    from django_q.conf import Conf

    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    # django-q2 reads Q_CLUSTER once, at import: the settings override alone does nothing.
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Any) -> None:
    # PBKDF2 with Django's default iterations costs ~0.3 s per user on a small CPU.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def _make(
        tenant: Tenant | None,
        role: str = User.Role.MEMBER,
        username: str | None = None,
        password: str = TEST_PASSWORD,
        **fields: Any,
    ) -> User:
        if username is None:
            prefix = tenant.slug.split("-")[0] if tenant else "platform"
            username = f"{prefix}-{role}-{next(_usernames)}"
        return User.objects.create_user(
            username=username, password=password, tenant=tenant, role=role, **fields
        )

    return _make


@pytest.fixture
def tenant_a(db: None) -> Tenant:
    return Tenant.objects.create(name="Alpha Optics", slug="alpha-optics")


@pytest.fixture
def tenant_b(db: None) -> Tenant:
    return Tenant.objects.create(name="Beta Botanics", slug="beta-botanics")


@pytest.fixture
def admin_a(make_user: Callable[..., User], tenant_a: Tenant) -> User:
    return make_user(tenant_a, User.Role.ADMIN, username="alpha-admin")


@pytest.fixture
def member_a(make_user: Callable[..., User], tenant_a: Tenant) -> User:
    return make_user(tenant_a, User.Role.MEMBER, username="alpha-member")


@pytest.fixture
def admin_b(make_user: Callable[..., User], tenant_b: Tenant) -> User:
    return make_user(tenant_b, User.Role.ADMIN, username="beta-admin")


@pytest.fixture
def member_b(make_user: Callable[..., User], tenant_b: Tenant) -> User:
    return make_user(tenant_b, User.Role.MEMBER, username="beta-member")


@pytest.fixture
def superuser(db: None) -> User:
    return User.objects.create_superuser(
        username="platform-root", password=TEST_PASSWORD, email="root@example.com"
    )


def _session_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _token_client(user: User) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def anon_client() -> Client:
    return Client()


@pytest.fixture
def client_a(member_a: User) -> Client:
    return _session_client(member_a)


@pytest.fixture
def client_admin_a(admin_a: User) -> Client:
    return _session_client(admin_a)


@pytest.fixture
def client_b(member_b: User) -> Client:
    return _session_client(member_b)


@pytest.fixture
def client_admin_b(admin_b: User) -> Client:
    return _session_client(admin_b)


@pytest.fixture
def api_client_a(member_a: User) -> APIClient:
    return _token_client(member_a)


@pytest.fixture
def api_client_admin_a(admin_a: User) -> APIClient:
    return _token_client(admin_a)


@pytest.fixture
def api_client_b(member_b: User) -> APIClient:
    return _token_client(member_b)


@pytest.fixture
def api_client_admin_b(admin_b: User) -> APIClient:
    return _token_client(admin_b)
