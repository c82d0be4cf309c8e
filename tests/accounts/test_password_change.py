"""Everyone (members, admins, platform superusers) can change their own password."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.conftest import TEST_PASSWORD

NEW_PASSWORD = "brand new passphrase 5"


def _change(client, old=TEST_PASSWORD, new1=NEW_PASSWORD, new2=NEW_PASSWORD):
    return client.post(
        reverse("accounts:password-change"),
        {"old_password": old, "new_password1": new1, "new_password2": new2},
    )


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["member_a", "admin_a", "superuser"])
def test_password_change_keeps_the_session(who, request, client):
    user = request.getfixturevalue(who)
    client.force_login(user)
    assert client.get(reverse("accounts:password-change")).status_code == 200
    response = _change(client)
    assert response.status_code == 302 and response["Location"] == reverse("home")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    # update_session_auth_hash: the session that changed the password stays signed in.
    assert client.get(reverse("accounts:password-change")).status_code == 200


@pytest.mark.django_db
def test_other_sessions_are_signed_out_after_a_change(member_a, client):
    from django.test import Client

    other = Client()
    other.force_login(member_a)
    client.force_login(member_a)
    _change(client)
    response = other.get(reverse("home"))
    assert response.status_code == 302


@pytest.mark.django_db
def test_wrong_old_password_is_refused(client_a, member_a):
    response = _change(client_a, old="not it")
    assert response.status_code == 200
    assert response.context["form"].errors["old_password"]
    member_a.refresh_from_db()
    assert member_a.check_password(TEST_PASSWORD)


@pytest.mark.django_db
def test_weak_new_password_is_refused(client_a, member_a):
    response = _change(client_a, new1="12345678", new2="12345678")
    assert response.status_code == 200
    assert response.context["form"].errors["new_password2"]


@pytest.mark.django_db
def test_password_change_needs_login(client):
    response = client.get(reverse("accounts:password-change"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
