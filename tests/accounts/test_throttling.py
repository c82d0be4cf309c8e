"""Login throttling: N failures per username + address per window, on the page and the API."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from accounts import throttling
from tests.conftest import TEST_PASSWORD

LIMIT = 3


@pytest.fixture(autouse=True)
def _small_limit(settings):
    settings.PSBIR_LOGIN_MAX_FAILURES = LIMIT
    settings.PSBIR_LOGIN_WINDOW_SECONDS = 60


def _login(client, username, password, address="10.0.0.1"):
    return client.post(
        reverse("accounts:login"),
        {"username": username, "password": password},
        REMOTE_ADDR=address,
    )


@pytest.mark.django_db
def test_migrate_creates_the_database_cache_table():
    from django.conf import settings
    from django.db import connection

    backend = settings.CACHES["default"]["BACKEND"]
    if backend.endswith("DatabaseCache"):
        assert settings.CACHES["default"]["LOCATION"] in connection.introspection.table_names()
    else:
        assert "redis" in backend.lower()


@pytest.mark.django_db
def test_page_locks_out_after_n_failures_even_with_right_password(client, member_a):
    for _ in range(LIMIT):
        assert _login(client, member_a.username, "wrong").status_code == 200
    response = _login(client, member_a.username, TEST_PASSWORD)
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert "wait a minute" in response.content.decode()
    assert SESSION_KEY not in client.session


@pytest.mark.django_db
def test_lockout_is_per_username_and_address(client, member_a, admin_a):
    for _ in range(LIMIT):
        _login(client, member_a.username, "wrong")
    # Same user from another address, other user from the same address: both fine.
    assert _login(Client(), member_a.username, TEST_PASSWORD, "10.0.0.2").status_code == 302
    assert _login(Client(), admin_a.username, TEST_PASSWORD, "10.0.0.1").status_code == 302
    # Username case does not give a fresh counter.
    assert _login(Client(), member_a.username.upper(), TEST_PASSWORD).status_code == 429


@pytest.mark.django_db
def test_success_before_the_limit_resets_the_counter(client, member_a):
    for _ in range(LIMIT - 1):
        _login(client, member_a.username, "wrong")
    assert _login(client, member_a.username, TEST_PASSWORD).status_code == 302
    client.logout()
    for _ in range(LIMIT - 1):
        _login(client, member_a.username, "wrong")
    assert _login(client, member_a.username, TEST_PASSWORD).status_code == 302


@pytest.mark.django_db
def test_lockout_ends_when_the_window_expires(client, member_a):
    for _ in range(LIMIT):
        _login(client, member_a.username, "wrong")
    assert throttling.is_locked_out(member_a.username, "10.0.0.1")
    # Expiry is the cache's job; dropping the key is what expiry does.
    throttling.reset(member_a.username, "10.0.0.1")
    assert _login(client, member_a.username, TEST_PASSWORD).status_code == 302


@pytest.mark.django_db
def test_failures_counted_for_unknown_usernames_too(client):
    for _ in range(LIMIT):
        _login(client, "nobody-here", "wrong")
    assert throttling.is_locked_out("nobody-here", "10.0.0.1")


@pytest.mark.django_db
def test_token_api_locks_out_with_429_and_clear_message(member_a):
    client = APIClient(REMOTE_ADDR="10.0.0.9")
    url = reverse("accounts-api:auth-token")
    for _ in range(LIMIT):
        response = client.post(url, {"username": member_a.username, "password": "x"})
        assert response.status_code == 400
    response = client.post(url, {"username": member_a.username, "password": TEST_PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.json()["detail"]
    assert "Retry-After" in response


@pytest.mark.django_db
def test_token_api_has_the_login_rate_scope(member_a, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"login": "2/min"})
    client = APIClient(REMOTE_ADDR="10.0.0.10")
    url = reverse("accounts-api:auth-token")
    body = {"username": member_a.username, "password": TEST_PASSWORD}
    assert client.post(url, body).status_code == 200
    assert client.post(url, body).status_code == 200
    assert client.post(url, body).status_code == 429
