"""Log in / log out through the pages (session auth, CSRF-protected forms)."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from tests.conftest import TEST_PASSWORD


def _login(client: Client, username: str, password: str = TEST_PASSWORD, **extra):
    return client.post(
        reverse("accounts:login"), {"username": username, "password": password}, **extra
    )


@pytest.mark.django_db
def test_login_page_renders(client):
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="csrfmiddlewaretoken"' in body
    assert 'name="username"' in body and 'name="password"' in body


@pytest.mark.django_db
def test_login_with_right_password_goes_home(client, member_a):
    response = _login(client, member_a.username)
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert int(client.session[SESSION_KEY]) == member_a.pk


@pytest.mark.django_db
def test_login_follows_safe_next_only(client, member_a):
    response = client.post(
        reverse("accounts:login") + "?next=/accounts/password/",
        {"username": member_a.username, "password": TEST_PASSWORD, "next": "/accounts/password/"},
    )
    assert response["Location"] == "/accounts/password/"
    client.logout()
    response = client.post(
        reverse("accounts:login"),
        {"username": member_a.username, "password": TEST_PASSWORD, "next": "https://evil.test/"},
    )
    assert response["Location"] == reverse("home")


@pytest.mark.django_db
def test_wrong_password_is_refused(client, member_a):
    response = _login(client, member_a.username, "not the password")
    assert response.status_code == 200
    assert SESSION_KEY not in client.session
    assert "correct username and password" in response.content.decode()


@pytest.mark.django_db
def test_inactive_user_cannot_log_in(client, member_a):
    member_a.is_active = False
    member_a.save()
    response = _login(client, member_a.username)
    assert response.status_code == 200
    assert SESSION_KEY not in client.session


@pytest.mark.django_db
def test_login_form_requires_csrf(member_a):
    client = Client(enforce_csrf_checks=True)
    response = _login(client, member_a.username)
    assert response.status_code == 403
    assert SESSION_KEY not in client.session


@pytest.mark.django_db
def test_logout_is_post_only_and_ends_the_session(client_a):
    assert client_a.get(reverse("accounts:logout")).status_code == 405
    assert client_a.get(reverse("home")).status_code == 200
    response = client_a.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login")
    assert SESSION_KEY not in client_a.session
    assert client_a.get(reverse("home")).status_code == 302


@pytest.mark.django_db
def test_deactivated_users_session_stops_working(client_a, member_a):
    assert client_a.get(reverse("home")).status_code == 200
    member_a.is_active = False
    member_a.save()
    response = client_a.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
