"""What every page keeps to: it links the site's icon (and /favicon.ico finds it), dates in
one style, a person named once."""

from __future__ import annotations

import datetime

import pytest
from django.template import Context, Template
from django.urls import reverse

from accounts.models import User

pytestmark = pytest.mark.django_db


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
