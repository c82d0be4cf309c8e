"""REST API: token auth, /api/me/, members for tenant admins."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import User
from tests.conftest import TEST_PASSWORD

NEW_PASSWORD = "a fresh long secret 31"


@pytest.mark.django_db
def test_obtain_token_then_call_me_with_it(member_a, tenant_a):
    client = APIClient()
    response = client.post(
        reverse("accounts-api:auth-token"),
        {"username": member_a.username, "password": TEST_PASSWORD},
        format="json",
    )
    assert response.status_code == 200
    token = response.json()["token"]
    assert token == Token.objects.get(user=member_a).key
    assert response.json()["user"]["username"] == member_a.username

    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = client.get(reverse("accounts-api:me")).json()
    assert me["id"] == member_a.pk
    assert me["role"] == "member" and me["is_tenant_admin"] is False
    assert me["tenant"] == {"id": tenant_a.pk, "name": "Alpha Optics", "slug": "alpha-optics"}


@pytest.mark.django_db
def test_same_token_is_returned_on_each_login(member_a):
    client = APIClient()
    body = {"username": member_a.username, "password": TEST_PASSWORD}
    first = client.post(reverse("accounts-api:auth-token"), body).json()["token"]
    second = client.post(reverse("accounts-api:auth-token"), body).json()["token"]
    assert first == second


@pytest.mark.django_db
def test_wrong_credentials_give_one_error_shape(member_a):
    response = APIClient().post(
        reverse("accounts-api:auth-token"), {"username": member_a.username, "password": "no"}
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "Unable to log in with these credentials."
    missing = APIClient().post(reverse("accounts-api:auth-token"), {})
    assert missing.status_code == 400
    assert set(missing.json()["errors"]) == {"username", "password"}


@pytest.mark.django_db
def test_token_endpoint_needs_no_csrf_even_with_a_session(member_a):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(member_a)
    response = client.post(
        reverse("accounts-api:auth-token"),
        {"username": member_a.username, "password": TEST_PASSWORD},
    )
    assert response.status_code == 200


@pytest.mark.django_db
def test_api_requires_authentication():
    client = APIClient()
    assert client.get(reverse("accounts-api:me")).status_code in (401, 403)
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    # 403 while SessionAuthentication is listed first in settings (DRF takes the status
    # from the first authenticator's header); 401 once TokenAuthentication leads.
    response = client.get(reverse("accounts-api:me"))
    assert response.status_code in (401, 403)
    assert response.json()["detail"] == "Invalid token."


@pytest.mark.django_db
def test_session_auth_works_and_enforces_csrf_on_writes(admin_a):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(admin_a)
    assert client.get(reverse("accounts-api:me")).status_code == 200
    response = client.post(
        reverse("accounts-api:member-list"),
        {"username": "zed", "password": NEW_PASSWORD},
        format="json",
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not User.objects.filter(username="zed").exists()


@pytest.mark.django_db
def test_me_for_superuser_without_tenant(superuser):
    client = APIClient()
    client.force_authenticate(superuser)
    me = client.get(reverse("accounts-api:me")).json()
    assert me["tenant"] is None and me["is_tenant_admin"] is False


@pytest.mark.django_db
def test_deactivated_users_token_stops_working(api_client_a, member_a):
    assert api_client_a.get(reverse("accounts-api:me")).status_code == 200
    member_a.is_active = False
    member_a.save()
    response = api_client_a.get(reverse("accounts-api:me"))
    assert response.status_code in (401, 403)
    assert "inactive" in response.json()["detail"].lower()


# --- Members API -------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_lists_members_of_own_tenant_only(api_client_admin_a, admin_a, member_a, member_b):
    response = api_client_admin_a.get(reverse("accounts-api:member-list"))
    assert response.status_code == 200
    rows = {row["username"]: row for row in response.json()}
    assert set(rows) == {admin_a.username, member_a.username}
    assert rows[member_a.username]["status"] == "active"
    assert "password" not in rows[member_a.username]


@pytest.mark.django_db
def test_members_api_is_admin_only(api_client_a, member_a):
    assert api_client_a.get(reverse("accounts-api:member-list")).status_code == 403
    detail = reverse("accounts-api:member-detail", args=[member_a.pk])
    assert api_client_a.get(detail).status_code == 403
    assert api_client_a.patch(detail, {"role": "admin"}, format="json").status_code == 403
    assert api_client_a.delete(detail).status_code == 403
    member_a.refresh_from_db()
    assert member_a.role == "member" and member_a.is_active


@pytest.mark.django_db
def test_superuser_without_tenant_is_refused_members_api(superuser):
    client = APIClient()
    client.force_authenticate(superuser)
    response = client.get(reverse("accounts-api:member-list"))
    assert response.status_code == 403


@pytest.mark.django_db
def test_admin_creates_member_in_own_tenant_whatever_the_body_says(
    api_client_admin_a, tenant_a, tenant_b
):
    response = api_client_admin_a.post(
        reverse("accounts-api:member-list"),
        {"username": "newbie", "password": NEW_PASSWORD, "role": "admin", "tenant": tenant_b.pk},
        format="json",
    )
    assert response.status_code == 201, response.json()
    created = User.objects.get(username="newbie")
    assert created.tenant == tenant_a and created.role == "admin"
    assert response.json()["id"] == created.pk


@pytest.mark.django_db
def test_create_member_validation_errors(api_client_admin_a, member_b):
    response = api_client_admin_a.post(
        reverse("accounts-api:member-list"),
        {"username": member_b.username, "password": "123", "role": "boss"},
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "role" in errors  # serializer-level
    response = api_client_admin_a.post(
        reverse("accounts-api:member-list"),
        {"username": member_b.username, "password": "123"},
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) >= {"username", "password"}  # service-level, all at once


@pytest.mark.django_db
def test_invite_api_returns_single_use_link(api_client_admin_a, tenant_a, client):
    response = api_client_admin_a.post(
        reverse("accounts-api:member-invite"), {"username": "invitee"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["member"]["status"] == "invited"
    path = body["invite_url"].removeprefix("http://testserver")
    accept = client.post(path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert accept.status_code == 302
    assert User.objects.get(username="invitee").is_active


@pytest.mark.django_db
def test_patch_member(api_client_admin_a, member_a):
    url = reverse("accounts-api:member-detail", args=[member_a.pk])
    response = api_client_admin_a.patch(
        url, {"role": "admin", "first_name": "Ann", "email": "ann@example.com"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["role"] == "admin" and response.json()["first_name"] == "Ann"
    member_a.refresh_from_db()
    assert member_a.is_tenant_admin and member_a.email == "ann@example.com"


@pytest.mark.django_db
def test_patch_refuses_to_demote_last_admin(api_client_admin_a, admin_a):
    url = reverse("accounts-api:member-detail", args=[admin_a.pk])
    response = api_client_admin_a.patch(url, {"role": "member"}, format="json")
    assert response.status_code == 400
    assert "at least one active admin" in response.json()["detail"]
    admin_a.refresh_from_db()
    assert admin_a.is_tenant_admin


@pytest.mark.django_db
def test_delete_deactivates(api_client_admin_a, member_a):
    url = reverse("accounts-api:member-detail", args=[member_a.pk])
    assert api_client_admin_a.delete(url).status_code == 204
    member_a.refresh_from_db()
    assert not member_a.is_active
    assert api_client_admin_a.get(url).json()["status"] == "deactivated"


@pytest.mark.django_db
def test_delete_refuses_last_admin(api_client_admin_a, admin_a):
    url = reverse("accounts-api:member-detail", args=[admin_a.pk])
    response = api_client_admin_a.delete(url)
    assert response.status_code == 400
    admin_a.refresh_from_db()
    assert admin_a.is_active


@pytest.mark.django_db
def test_other_tenants_member_is_404_not_403(api_client_admin_b, member_a):
    url = reverse("accounts-api:member-detail", args=[member_a.pk])
    missing = reverse("accounts-api:member-detail", args=[999_999])
    assert api_client_admin_b.get(url).status_code == 404
    assert api_client_admin_b.get(url).json() == api_client_admin_b.get(missing).json()
