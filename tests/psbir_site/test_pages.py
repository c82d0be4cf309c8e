"""The landing page, the base layout and the health check."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse


@pytest.mark.django_db
def test_home_names_the_organisation_and_role(client_a, member_a):
    response = client_a.get(reverse("home"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Alpha Optics" in body
    assert 'data-role="member"' in body and "Member" in body
    assert "Beta Botanics" not in body


@pytest.mark.django_db
def test_home_for_an_admin(client_admin_a):
    body = client_admin_a.get(reverse("home")).content.decode()
    assert 'data-role="admin"' in body and "Organisation admin" in body
    assert reverse("accounts:members") in body


@pytest.mark.django_db
def test_home_requires_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.django_db
def test_superuser_without_tenant_gets_a_friendly_page(client, superuser):
    client.force_login(superuser)
    response = client.get(reverse("home"))
    assert response.status_code == 403
    body = response.content.decode()
    assert "no organisation" in body
    assert reverse("admin:index") in body


@pytest.mark.django_db
def test_base_layout_nav_and_user_menu(client_a, client_admin_a):
    member_page = client_a.get(reverse("home")).content.decode()
    admin_page = client_admin_a.get(reverse("home")).content.decode()
    for page in (member_page, admin_page):
        assert '<form method="post" action="/accounts/logout/">' in page
        assert reverse("accounts:password-change") in page
        assert 'data-events="on"' in page
        assert 'id="toasts"' in page
        assert "/static/js/app.js" in page and "/static/css/app.css" in page
    members_link = f'<a href="{reverse("accounts:members")}"'
    assert members_link not in member_page
    assert members_link in admin_page


@pytest.mark.django_db
def test_anonymous_pages_do_not_open_the_event_socket(client):
    body = client.get(reverse("accounts:login")).content.decode()
    assert 'data-events="off"' in body


@pytest.mark.django_db
@pytest.mark.urls("tests.psbir_site.minimal_urls")
def test_base_layout_survives_missing_app_routes(client_admin_a):
    # Before retrieval/personalization routes exist the nav hides their links.
    response = client_admin_a.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Alpha Optics" in body
    assert ">Search<" not in body and ">Libraries<" not in body


def test_static_assets_exist():
    static = Path(settings.BASE_DIR) / "static"
    app_js = (static / "js" / "app.js").read_text()
    assert "/ws/events/" in app_js and "psbir:event" in app_js
    assert "personal_model_ready" in app_js and "notify" in app_js
    assert (static / "css" / "app.css").stat().st_size > 1000


@pytest.mark.django_db
def test_healthz(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert set(response.json()) == {"status", "search_ready", "model_load_seconds", "model_error"}
