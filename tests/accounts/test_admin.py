"""Django admin: registered for Tenant, User, Invitation; only staff get in."""

from __future__ import annotations

import pytest
from django.urls import reverse


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url_name",
    [
        "admin:accounts_tenant_changelist",
        "admin:accounts_user_changelist",
        "admin:accounts_invitation_changelist",
        "admin:accounts_tenant_add",
        "admin:accounts_user_add",
    ],
)
def test_superuser_uses_the_admin(client, superuser, tenant_a, member_a, url_name):
    client.force_login(superuser)
    response = client.get(reverse(url_name))
    assert response.status_code == 200


@pytest.mark.django_db
def test_user_change_page_shows_tenant_and_role(client, superuser, member_a):
    client.force_login(superuser)
    response = client.get(reverse("admin:accounts_user_change", args=[member_a.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="tenant"' in body and 'name="role"' in body


@pytest.mark.django_db
def test_tenant_admins_are_not_django_admin_staff(client_admin_a):
    response = client_admin_a.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
