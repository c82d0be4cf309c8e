"""Sign-up creates an organisation whose first user is its admin."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts import services
from accounts.models import Tenant, User

PASSWORD = "a sturdy passphrase 7"


def _signup(client, **overrides):
    data = {
        "organisation_name": "Gamma Gallery",
        "username": "gina",
        "email": "gina@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
        **overrides,
    }
    return client.post(reverse("accounts:signup"), data)


@pytest.mark.django_db
def test_signup_creates_tenant_and_admin_and_logs_in(client):
    response = _signup(client)
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    tenant = Tenant.objects.get(name="Gamma Gallery")
    assert tenant.slug == "gamma-gallery"
    user = User.objects.get(username="gina")
    assert user.tenant == tenant
    assert user.role == User.Role.ADMIN and user.is_tenant_admin
    assert not user.is_staff and not user.is_superuser
    assert user.check_password(PASSWORD)
    home = client.get(reverse("home"))
    assert home.status_code == 200
    assert "Gamma Gallery" in home.content.decode()


@pytest.mark.django_db
def test_same_organisation_name_gets_a_unique_slug():
    first = services.tenant_signup(organisation_name="Acme & Co", username="u1", password=PASSWORD)
    second = services.tenant_signup(organisation_name="Acme & Co", username="u2", password=PASSWORD)
    third = services.tenant_signup(organisation_name="Acme & Co", username="u3", password=PASSWORD)
    assert [first.tenant.slug, second.tenant.slug, third.tenant.slug] == [
        "acme-co",
        "acme-co-2",
        "acme-co-3",
    ]


@pytest.mark.django_db
def test_name_without_slug_characters_still_gets_a_slug():
    user = services.tenant_signup(organisation_name="!!!", username="u1", password=PASSWORD)
    assert user.tenant.slug == "organisation"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"password2": "something else 99"}, "password2"),
        ({"password1": "123", "password2": "123"}, "password1"),
        ({"username": "bad name!"}, "username"),
        ({"organisation_name": ""}, "organisation_name"),
        ({"email": "not-an-email"}, "email"),
    ],
)
def test_invalid_signup_creates_nothing(client, overrides, field):
    response = _signup(client, **overrides)
    assert response.status_code == 200
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert not Tenant.objects.exists()
    assert not User.objects.exists()


@pytest.mark.django_db
def test_taken_username_is_refused_and_no_orphan_tenant_is_left(client, member_a):
    tenants_before = Tenant.objects.count()
    response = _signup(client, username=member_a.username.upper())
    assert response.status_code == 200
    assert "already exists" in str(response.context["form"].errors["username"])
    assert Tenant.objects.count() == tenants_before  # the transaction rolled back


@pytest.mark.django_db
def test_service_rejects_weak_password_under_password_key():
    with pytest.raises(ValidationError) as info:
        services.tenant_signup(organisation_name="X", username="x", password="password")
    assert "password" in info.value.message_dict
    assert not Tenant.objects.exists()


@pytest.mark.django_db
def test_signed_in_user_is_sent_home_from_signup(client_a):
    response = client_a.get(reverse("accounts:signup"))
    assert response.status_code == 302 and response["Location"] == reverse("home")


@pytest.mark.django_db
def test_signup_form_requires_csrf(db):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = _signup(client)
    assert response.status_code == 403
    assert not Tenant.objects.exists()
