"""API paths answer errors as JSON whatever Django would have answered (unknown URLs, with
debug on too; unreadable multipart bodies); pages keep HTML."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("debug", [False, True])
def test_unknown_api_url_is_a_json_404_even_with_debug(settings, client_a, debug):
    settings.DEBUG = debug
    for url in ("/api/nope/", "/api/libraries/1/nothing-here/", "/api"):
        response = client_a.get(url)
        assert response.status_code == 404, url
        assert response["Content-Type"] == "application/json", url
        body = response.json()
        assert "URL pattern" not in response.content.decode() and body["detail"], url


def test_unknown_api_url_still_gets_the_slash_redirect(client_a):
    assert client_a.get("/api/me")["Location"] == "/api/me/"


def test_page_404_stays_html(client_a):
    response = client_a.get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_malformed_multipart_on_api_paths_is_json_through_django(member_a):
    # The session-authenticated path: Django's own handlers answer before any DRF view.
    client = Client()
    client.force_login(member_a)
    for url in ("/api/search/", "/api/nope/"):
        response = client.generic(
            "POST", url, b"--XX--\r\n", content_type="multipart/form-data; boundary=XX"
        )
        assert 400 <= response.status_code < 500
        assert response["Content-Type"] == "application/json", url
        assert response.json()["detail"]
