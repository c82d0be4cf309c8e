"""API searches join the current session and sessions get titles; typed texts are printable.

Issue 15: every API search without `session` used to open a new untitled session, and
library names, session titles and labels took control characters.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from psbir_site.text import PATTERN_REQUIRED, clean_text, text_problem
from retrieval.models import LibraryImage, SearchSession
from tests.retrieval.fakes import circle_strokes
from tests.searching import post_search

pytestmark = pytest.mark.django_db

TODAY = lambda: date_format(timezone.localdate(), "DATE_FORMAT")  # noqa: E731
STARTED = lambda session: date_format(  # noqa: E731
    timezone.localtime(session.created_at), "DATETIME_FORMAT"
)


def _search(api_client, **extra):
    return post_search(api_client, top_k=3, **extra)


# --- sessions -------------------------------------------------------------------------------


def test_api_searches_without_session_join_the_current_one(api_client_a, indexed_library):
    first = _search(api_client_a)
    second = _search(api_client_a)
    assert second["session"] == first["session"]
    assert SearchSession.objects.count() == 1
    session = SearchSession.objects.get()
    # Issue 21: its start time and its count of searches (the shapes are unlabelled).
    assert session.title == f"{STARTED(session)} · 2 searches"


def test_new_session_true_starts_a_titled_one(api_client_a, indexed_library):
    first = _search(api_client_a)
    fresh = _search(api_client_a, new_session=True)
    assert fresh["session"] != first["session"]
    # ... and it is now the current one.
    assert _search(api_client_a)["session"] == fresh["session"]
    session = SearchSession.objects.get(pk=fresh["session"])
    assert session.title == f"{STARTED(session)} · 2 searches"


def test_session_and_new_session_together_is_a_400(api_client_a, indexed_library):
    first = _search(api_client_a)
    response = api_client_a.post(
        "/api/search/",
        {"strokes": circle_strokes(), "session": first["session"], "new_session": True},
        format="json",
    )
    assert response.status_code == 400 and "new_session" in response.json()["errors"]


def test_the_current_session_is_per_user(api_client_a, api_client_admin_a, indexed_library):
    mine = _search(api_client_a)
    theirs = _search(api_client_admin_a)
    assert mine["session"] != theirs["session"]


def test_title_names_the_first_library_and_how_many_more(
    api_client_a, indexed_library, make_library, tenant_a
):
    from retrieval.services.sessions import default_title

    other = make_library(tenant_a, name="Birds")
    assert default_title(libraries=[indexed_library, other]) == f"{TODAY()} · Shapes and 1 more"
    assert default_title() == TODAY()


def test_session_patch_is_partial_and_post_titles_blank_sessions(api_client_a):
    created = api_client_a.post("/api/sessions/", {}, format="json")
    session = SearchSession.objects.get(pk=created.json()["id"])
    assert created.status_code == 201 and created.json()["title"] == STARTED(session)
    url = f"/api/sessions/{created.json()['id']}/"
    assert api_client_a.patch(url, {}, format="json").status_code == 200
    renamed = api_client_a.patch(url, {"title": "  Birds at dawn  "}, format="json")
    assert renamed.status_code == 200 and renamed.json()["title"] == "Birds at dawn"


def test_the_search_page_asks_for_a_new_session_on_its_first_search():
    from pathlib import Path

    script = (Path(__file__).resolve().parents[2] / "static" / "js" / "search.js").read_text()
    assert "else fields.new_session = true;" in script


# --- printable text -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", ["Birds\x07", "Bir\nds", "tab\there", "\x1b[31mred", "evil\u202etxt.exe", "a\x85b"]
)
def test_text_rule_refuses_control_characters(bad):
    assert "control characters" in text_problem(bad, max_length=120)
    with pytest.raises(Exception, match="control characters"):
        clean_text(bad, field="name", max_length=120)


def test_text_rule_trims_and_bounds():
    assert clean_text("  Birds  ", field="name", max_length=120) == "Birds"
    assert clean_text("Café · 鳥 🐦", field="name", max_length=120) == "Café · 鳥 🐦"
    assert text_problem("x" * 121, max_length=120) == "Use at most 120 characters."
    assert text_problem("   ", max_length=120) == "This field may not be blank."
    assert text_problem("   ", max_length=120, allow_blank=True) is None
    assert text_problem("line one\nline two", max_length=120, multiline=True) is None


def test_schema_pattern_states_the_same_rule():
    import re

    pattern = re.compile(PATTERN_REQUIRED)
    for good in ("Birds", " Birds ", "Café 鳥"):
        assert pattern.search(good), good
    for bad in ("Bird\x07s", "", "   ", "a\u202eb"):
        assert not pattern.search(bad), repr(bad)


@pytest.mark.parametrize(
    ("method", "url", "field"),
    [
        ("post", "/api/libraries/", "name"),
        ("post", "/api/libraries/", "description"),
    ],
)
def test_library_api_refuses_control_characters(api_client_admin_a, method, url, field):
    body = {"name": "Birds", field: "Bir\x07ds"}
    response = getattr(api_client_admin_a, method)(url, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert "control characters" in response.json()["detail"]


def test_library_rename_image_labels_and_session_titles_refuse_them(
    api_client_admin_a, api_client_a, indexed_library
):
    url = f"/api/libraries/{indexed_library.pk}/"
    response = api_client_admin_a.patch(url, {"name": "Shapes\x00"}, format="json")
    assert response.status_code == 400 and "name" in response.json()["errors"]
    image = LibraryImage.objects.filter(library=indexed_library).first()
    for field in ("category", "subcategory", "caption"):
        response = api_client_admin_a.patch(
            f"/api/images/{image.pk}/", {field: "round\x1fthing"}, format="json"
        )
        assert response.status_code == 400 and field in response.json()["errors"], field
    created = api_client_a.post("/api/sessions/", {"title": "ok"}, format="json").json()
    response = api_client_a.patch(
        f"/api/sessions/{created['id']}/", {"title": "bad\x1btitle"}, format="json"
    )
    assert response.status_code == 400 and "title" in response.json()["errors"]
    assert api_client_a.post("/api/sessions/", {"title": "x\ty"}, format="json").status_code == 400


def test_library_form_shows_the_error_on_the_page(client_admin_a, tenant_a):
    from retrieval.models import ImageLibrary

    response = client_admin_a.post(reverse("retrieval:libraries"), {"name": "Bir\x07ds"})
    assert response.status_code == 200
    assert "control characters" in response.content.decode()
    assert not ImageLibrary.objects.filter(tenant=tenant_a).exists()


def test_services_apply_the_rule_too(tenant_a):
    from django.core.exceptions import ValidationError

    from retrieval.services.libraries import library_create

    with pytest.raises(ValidationError):
        library_create(tenant=tenant_a, name="Bir\x07ds")
