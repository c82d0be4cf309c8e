"""Regression tests for the rough edges a new user hit (issue 15), site-wide ones.

Favicon, one date style, names shown once, JSON errors on API paths whatever Django would
have answered, debug off by default, the start script's last words, quiet faiss.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import subprocess
import sys
import threading

import pytest
from django.template import Context, Template
from django.test import Client
from django.urls import reverse

from accounts.models import User
from psbir_site import announce
from tests.processes import REPO

pytestmark = pytest.mark.django_db


# --- favicon --------------------------------------------------------------------------------


def test_favicon_ico_is_served_not_404(client_a):
    response = client_a.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/favicon.svg"
    icon = client_a.get(response["Location"])
    assert icon.status_code == 200, "the icon is served with DEBUG off (tests run so)"
    assert b"<svg" in b"".join(icon.streaming_content)


def test_every_page_links_its_icon(client_a):
    html = client_a.get(reverse("retrieval:search")).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html


# --- one date style, one name ---------------------------------------------------------------


def test_when_filter_is_the_one_date_style(settings):
    settings.TIME_ZONE = "UTC"
    moment = datetime.datetime(2026, 12, 1, 19, 3, tzinfo=datetime.UTC)
    rendered = Template("{% load psbir_tags %}{{ moment|when }}|{{ day|when }}|{{ none|when }}")
    out = rendered.render(Context({"moment": moment, "day": moment.date(), "none": None}))
    assert out == "Dec. 1, 2026, 7:03 p.m.|Dec. 1, 2026|"


@pytest.mark.parametrize(
    ("first", "last", "expected", "both"),
    [
        ("", "", "demo", False),
        ("demo", "", "demo", False),
        ("Ada", "Lovelace", "Ada Lovelace", True),
    ],
)
def test_a_person_is_named_once(first, last, expected, both):
    user = User(username="demo", first_name=first, last_name=last)
    out = Template(
        "{% load psbir_tags %}{{ u|person_name }}"
        "{% if u|has_other_name %} ({{ u.username }}){% endif %}"
    ).render(Context({"u": user}))
    assert out == (f"{expected} (demo)" if both else expected)


def test_people_page_does_not_say_demo_demo(client_admin_a, make_user, tenant_a):
    make_user(tenant_a, username="demo")
    make_user(tenant_a, username="demo2", first_name="demo2")
    html = client_admin_a.get(reverse("personalization:people")).content.decode()
    assert "demo <span" not in html and "demo2 <span" not in html
    assert ">demo</td>" in html and ">demo2</td>" in html


# --- API paths answer JSON ------------------------------------------------------------------


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


# --- debug off by default, the start script -------------------------------------------------


def test_debug_is_off_unless_asked_for():
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_DEBUG"}
    env["DJANGO_SETTINGS_MODULE"] = "psbir_site.settings"
    run = lambda extra: subprocess.run(  # noqa: E731
        [sys.executable, "-c", code],
        env={**env, **extra},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert run({}) == "False"
    assert run({"DJANGO_DEBUG": "1"}) == "True"


def test_start_script_runs_the_demo_with_debug_off_and_says_where_it_runs():
    from retrieval.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERS

    script = (REPO / "scripts" / "start.sh").read_text()
    assert "export DJANGO_DEBUG=${DJANGO_DEBUG:-0}" in script
    assert "DJANGO_DEBUG=1 turns Django's debug pages on" in script
    assert "python -m psbir_site.announce" in script
    for username, _role in DEMO_USERS:
        assert f"{username} / {DEMO_PASSWORD}" in script, "demo logins out of step with seed_demo"


def test_announce_waits_for_the_port_then_says_running():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    # Listen only after a moment: announce must poll, not give up at once.
    timer = threading.Timer(0.6, listener.listen)
    timer.start()
    try:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "psbir_site.announce",
                "127.0.0.1",
                str(port),
                str(os.getpid()),
                "demo logins: demo / x",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        timer.cancel()
        listener.close()
    assert run.returncode == 0, run.stderr
    assert (
        run.stdout.strip()
        == f"PSBIR is running on http://127.0.0.1:{port}/ (demo logins: demo / x)"
    )


def test_announce_gives_up_when_the_server_died():
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert announce.main(["127.0.0.1", str(port), str(dead.pid), "--timeout", "10"]) == 1


def test_faiss_loader_notices_are_quiet(settings):
    assert settings.LOGGING["loggers"]["faiss.loader"]["level"] == "WARNING"
    import retrieval.engine.index  # noqa: F401  (imports faiss)

    assert logging.getLogger("faiss.loader").getEffectiveLevel() >= logging.WARNING
