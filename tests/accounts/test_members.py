"""Tenant admins manage members: create, invite, change roles, deactivate, reactivate."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts import selectors, services
from accounts.models import Invitation, User
from tests.conftest import TEST_PASSWORD

NEW_PASSWORD = "a fresh long secret 31"


def _members_url() -> str:
    return reverse("accounts:members")


# --- Members page ------------------------------------------------------------------------


@pytest.mark.django_db
def test_members_page_lists_only_own_tenant(client_admin_a, member_a, member_b):
    response = client_admin_a.get(_members_url())
    assert response.status_code == 200
    body = response.content.decode()
    assert member_a.username in body
    assert member_b.username not in body


@pytest.mark.django_db
def test_members_page_is_admin_only(client_a):
    response = client_a.get(_members_url())
    assert response.status_code == 403
    assert "Admins only" in response.content.decode()


@pytest.mark.django_db
def test_create_member_with_password(client_admin_a, tenant_a, client):
    response = client_admin_a.post(
        reverse("accounts:member-create"),
        {
            "username": "carol",
            "email": "carol@example.com",
            "role": "member",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    carol = User.objects.get(username="carol")
    assert carol.tenant == tenant_a and carol.role == User.Role.MEMBER and carol.is_active
    login = client.post(reverse("accounts:login"), {"username": "carol", "password": NEW_PASSWORD})
    assert login.status_code == 302


@pytest.mark.django_db
def test_create_member_errors_are_shown_and_nothing_is_created(client_admin_a, member_b):
    response = client_admin_a.post(
        reverse("accounts:member-create"),
        {"username": member_b.username, "role": "member", "password1": "x", "password2": "x"},
    )
    assert response.status_code == 400
    errors = response.context["create_form"].errors
    assert "already exists" in str(errors["username"])
    assert errors["password1"]  # too short / common
    assert User.objects.filter(username=member_b.username).count() == 1


# --- Invitations -------------------------------------------------------------------------


def _invite_via_page(client, username="dave", role="member") -> str:
    response = client.post(
        reverse("accounts:member-invite"), {"username": username, "role": role, "email": ""}
    )
    assert response.status_code == 200
    match = re.search(
        r'value="(http://testserver/accounts/invite/[^"/]+/)"', response.content.decode()
    )
    assert match, "the invite link is shown to the admin"
    return match.group(1).removeprefix("http://testserver")


@pytest.mark.django_db
def test_invite_flow_sets_password_and_signs_in(client_admin_a, tenant_a, client):
    url = _invite_via_page(client_admin_a)
    dave = User.objects.get(username="dave")
    assert dave.tenant == tenant_a and not dave.is_active and not dave.has_usable_password()
    assert selectors.member_status(dave) == "invited"

    page = client.get(url)
    assert page.status_code == 200
    assert "Alpha Optics" in page.content.decode() and "dave" in page.content.decode()

    response = client.post(url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    dave.refresh_from_db()
    assert dave.is_active and dave.check_password(NEW_PASSWORD)
    assert int(client.session[SESSION_KEY]) == dave.pk
    assert selectors.member_status(dave) == "active"


@pytest.mark.django_db
def test_invite_token_is_single_use(client_admin_a, client):
    url = _invite_via_page(client_admin_a)
    client.post(url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    other = type(client)()
    assert other.get(url).status_code == 404
    response = other.post(
        url, {"password1": "another long secret 8", "password2": "another long secret 8"}
    )
    assert response.status_code == 404
    assert User.objects.get(username="dave").check_password(NEW_PASSWORD)


@pytest.mark.django_db
def test_invite_accept_validates_the_password(client_admin_a, client):
    url = _invite_via_page(client_admin_a)
    response = client.post(url, {"password1": "dave", "password2": "dave"})
    assert response.status_code == 200
    assert response.context["form"].errors["password1"]
    assert not User.objects.get(username="dave").is_active
    assert client.get(url).status_code == 200  # still usable after a failed attempt


@pytest.mark.django_db
def test_expired_and_unknown_tokens_give_the_same_404(admin_a, tenant_a, client):
    link = services.member_invite(tenant=tenant_a, invited_by=admin_a, username="erin")
    Invitation.objects.filter(pk=link.invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    expired = client.get(reverse("accounts:invite-accept", args=[link.token]))
    unknown = client.get(reverse("accounts:invite-accept", args=["not-a-token"]))
    assert expired.status_code == unknown.status_code == 404

    def without_csrf(body: bytes) -> str:
        return re.sub(r'name="csrf-token" content="[^"]*"', "", body.decode())

    assert without_csrf(expired.content) == without_csrf(unknown.content)
    with pytest.raises(ValidationError):
        services.invite_accept(token=link.token, password=NEW_PASSWORD)


@pytest.mark.django_db
def test_only_a_hash_of_the_token_is_stored(admin_a, tenant_a):
    link = services.member_invite(tenant=tenant_a, invited_by=admin_a, username="fay")
    stored = Invitation.objects.get(user=link.user)
    assert link.token not in stored.token_hash
    assert stored.token_hash == selectors.hash_invite_token(link.token)


@pytest.mark.django_db
def test_reissued_link_replaces_the_old_one(admin_a, tenant_a, client_admin_a, client):
    first = services.member_invite(tenant=tenant_a, invited_by=admin_a, username="gus")
    response = client_admin_a.post(reverse("accounts:member-reinvite", args=[first.user.pk]))
    assert response.status_code == 200
    assert "Invitation link for gus" in response.content.decode()
    assert client.get(reverse("accounts:invite-accept", args=[first.token])).status_code == 404
    assert Invitation.objects.filter(user=first.user).count() == 1


@pytest.mark.django_db
def test_reissue_refused_for_members_with_a_password(member_a, admin_a):
    with pytest.raises(ValidationError):
        services.member_invite_reissue(member=member_a, invited_by=admin_a)


@pytest.mark.django_db
def test_cancelled_invite_cannot_be_accepted(admin_a, tenant_a, client_admin_a, client):
    link = services.member_invite(tenant=tenant_a, invited_by=admin_a, username="hal")
    client_admin_a.post(reverse("accounts:member-deactivate", args=[link.user.pk]))
    assert client.get(reverse("accounts:invite-accept", args=[link.token])).status_code == 404
    link.user.refresh_from_db()
    assert selectors.member_status(link.user) == "deactivated"


# --- Roles -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_changes_a_role(client_admin_a, member_a):
    response = client_admin_a.post(
        reverse("accounts:member-role", args=[member_a.pk]), {"role": "admin"}
    )
    assert response.status_code == 302
    member_a.refresh_from_db()
    assert member_a.is_tenant_admin


@pytest.mark.django_db
def test_role_change_notifies_the_member(admin_a, member_a, django_capture_on_commit_callbacks):
    from psbir_site.models import OutboxEvent

    with django_capture_on_commit_callbacks(execute=True):
        services.member_update_role(member=member_a, role="admin", acting_user=admin_a)
    event = OutboxEvent.objects.get()
    assert event.group == f"user-{member_a.pk}"
    assert event.payload["event"] == "notify" and "Organisation admin" in event.payload["message"]


@pytest.mark.django_db
def test_last_admin_cannot_be_demoted(client_admin_a, admin_a):
    response = client_admin_a.post(
        reverse("accounts:member-role", args=[admin_a.pk]), {"role": "member"}, follow=True
    )
    assert "at least one active admin" in response.content.decode()
    admin_a.refresh_from_db()
    assert admin_a.is_tenant_admin


@pytest.mark.django_db
def test_an_admin_can_step_down_when_another_admin_exists(admin_a, make_user, tenant_a):
    make_user(tenant_a, User.Role.ADMIN)
    services.member_update_role(member=admin_a, role="member", acting_user=admin_a)
    admin_a.refresh_from_db()
    assert admin_a.role == User.Role.MEMBER


@pytest.mark.django_db
def test_unknown_role_is_refused(admin_a, member_a):
    with pytest.raises(ValidationError):
        services.member_update_role(member=member_a, role="owner", acting_user=admin_a)


@pytest.mark.django_db
def test_services_refuse_to_cross_tenants(admin_a, member_b):
    with pytest.raises(PermissionError):
        services.member_update_role(member=member_b, role="admin", acting_user=admin_a)
    with pytest.raises(PermissionError):
        services.member_deactivate(member=member_b, acting_user=admin_a)
    member_b.refresh_from_db()
    assert member_b.is_active and member_b.role == User.Role.MEMBER


# --- Deactivation ------------------------------------------------------------------------


@pytest.mark.django_db
def test_deactivated_member_cannot_log_in_and_loses_api_token(client_admin_a, member_a, client):
    Token.objects.create(user=member_a)
    response = client_admin_a.post(reverse("accounts:member-deactivate", args=[member_a.pk]))
    assert response.status_code == 302
    member_a.refresh_from_db()
    assert not member_a.is_active
    assert not Token.objects.filter(user=member_a).exists()
    login = client.post(
        reverse("accounts:login"), {"username": member_a.username, "password": TEST_PASSWORD}
    )
    assert login.status_code == 200 and SESSION_KEY not in client.session


@pytest.mark.django_db
def test_last_admin_cannot_deactivate_themselves(client_admin_a, admin_a):
    response = client_admin_a.post(
        reverse("accounts:member-deactivate", args=[admin_a.pk]), follow=True
    )
    assert "last active admin" in response.content.decode()
    admin_a.refresh_from_db()
    assert admin_a.is_active


@pytest.mark.django_db
def test_admin_may_deactivate_themselves_when_another_admin_remains(
    client_admin_a, admin_a, make_user, tenant_a
):
    make_user(tenant_a, User.Role.ADMIN)
    response = client_admin_a.post(reverse("accounts:member-deactivate", args=[admin_a.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("accounts:login")
    admin_a.refresh_from_db()
    assert not admin_a.is_active
    assert SESSION_KEY not in client_admin_a.session


@pytest.mark.django_db
def test_reactivate(client_admin_a, member_a):
    member_a.is_active = False
    member_a.save()
    client_admin_a.post(reverse("accounts:member-reactivate", args=[member_a.pk]))
    member_a.refresh_from_db()
    assert member_a.is_active


@pytest.mark.django_db
def test_reactivate_refused_for_never_accepted_invite(admin_a, tenant_a):
    link = services.member_invite(tenant=tenant_a, invited_by=admin_a, username="ivy")
    services.member_deactivate(member=link.user, acting_user=admin_a)
    with pytest.raises(ValidationError, match="never set a password"):
        services.member_reactivate(member=link.user, acting_user=admin_a)


@pytest.mark.django_db
def test_member_management_posts_are_admin_only(client_a, admin_a, member_a):
    for name, data in [
        ("accounts:member-role", {"role": "admin"}),
        ("accounts:member-deactivate", {}),
    ]:
        response = client_a.post(reverse(name, args=[admin_a.pk]), data)
        assert response.status_code == 403
    response = client_a.post(
        reverse("accounts:member-create"),
        {"username": "x1", "role": "admin", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 403
    admin_a.refresh_from_db()
    assert admin_a.is_active and not User.objects.filter(username="x1").exists()


@pytest.mark.django_db
def test_member_management_forms_require_csrf(admin_a, member_a):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_a)
    response = client.post(reverse("accounts:member-deactivate", args=[member_a.pk]))
    assert response.status_code == 403
    member_a.refresh_from_db()
    assert member_a.is_active
