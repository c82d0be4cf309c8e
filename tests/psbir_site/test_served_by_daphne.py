"""The site as daphne serves it (a real server process on the test database).

What only shows behind the real server: Twisted used to answer a malformed multipart body
itself (a bare 400, no content type, before Django); static files with DEBUG off; API 404s in
JSON with the demo's DEBUG on.
"""

from __future__ import annotations

import http.client
import json

import pytest
from rest_framework.authtoken.models import Token

from tests.processes import start_daphne, stop_process

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _request(port: int, method: str, path: str, body: bytes = b"", headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("debug", ["0", "1"])
def test_daphne_leaves_bodies_to_django_and_api_errors_are_json(member_a, debug):
    token = Token.objects.create(user=member_a).key
    process, port = start_daphne(DJANGO_DEBUG=debug)
    try:
        malformed = {
            "Content-Type": "multipart/form-data; boundary=XX",
            "Authorization": f"Token {token}",
        }
        status, headers, body = _request(port, "POST", "/api/search/", b"--XX--\r\n", malformed)
        assert status == 400
        assert headers.get("Content-Type") == "application/json", (headers, body)
        assert json.loads(body)["detail"]

        status, headers, body = _request(port, "GET", "/api/no-such-endpoint/")
        assert status == 404 and headers.get("Content-Type") == "application/json", body[:200]
        assert b"URL pattern" not in body

        status, headers, _ = _request(port, "GET", "/favicon.ico")
        assert status == 302 and headers["Location"] == "/static/favicon.svg"
        for asset in ("/static/favicon.svg", "/static/css/app.css", "/static/js/search.js"):
            status, _, _ = _request(port, "GET", asset)
            assert status == 200, f"{asset} with DJANGO_DEBUG={debug}"
    finally:
        stop_process(process)
