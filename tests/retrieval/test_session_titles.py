"""Sessions a list can tell apart, and renaming them (issue 21, item 5).

Every session used to be titled "Dec. 3, 2026 · Demo clip art": the day and the library,
the same for every session of a day. A session's automatic title now says when it started,
what its first search was probably of (the category most common among its first results,
when the library is labelled) and how many searches it holds; its owner can rename it.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from retrieval.engine.far_match import FarMatchRule
from retrieval.models import SearchSession
from retrieval.services import sessions
from tests.retrieval.labelled import DRAWINGS, labelled_shapes
from tests.searching import post_search

pytestmark = pytest.mark.django_db


def _started(session: SearchSession) -> str:
    return date_format(timezone.localtime(session.created_at), "DATETIME_FORMAT")


def _search(api_client, drawing: str, **extra) -> dict:
    return post_search(api_client, strokes=DRAWINGS[drawing], top_k=10, **extra)


@pytest.fixture
def shapes(make_library, tenant_a, fake_engine):
    return labelled_shapes(make_library(tenant_a, name="Shapes"))


def test_a_session_is_titled_by_its_time_first_drawing_and_count(api_client_a, shapes):
    first = _search(api_client_a, "cross", new_session=True)
    session = SearchSession.objects.get(pk=first["session"])
    assert session.title == f"{_started(session)} · probably a cross · 1 search"
    _search(api_client_a, "circle")  # joins it; the first drawing still names it
    session.refresh_from_db()
    assert session.title == f"{_started(session)} · probably a cross · 2 searches"
    # The time of day is there, not only the day.
    assert date_format(timezone.localtime(session.created_at), "TIME_FORMAT") in session.title


def test_sessions_of_one_day_can_be_told_apart(api_client_a, shapes):
    titles = set()
    for drawing in ("cross", "bars", "circle"):
        titles.add(
            SearchSession.objects.get(
                pk=_search(api_client_a, drawing, new_session=True)["session"]
            ).title
        )
    assert len(titles) == 3
    assert {t.split(" · ")[1] for t in titles} == {
        "probably a cross",
        "probably a bars",
        "probably a circle",
    }


def test_no_guess_from_an_unlabelled_library(api_client_a, indexed_library):
    data = _search(api_client_a, "circle", new_session=True)
    session = SearchSession.objects.get(pk=data["session"])
    assert session.title == f"{_started(session)} · 1 search"


def test_no_guess_when_the_best_match_is_far(api_client_a, shapes, monkeypatch):
    from retrieval.engine import far_match

    monkeypatch.setattr(
        far_match, "rule_for", lambda version: FarMatchRule(head=version, threshold=0.0)
    )
    data = _search(api_client_a, "cross", new_session=True)
    session = SearchSession.objects.get(pk=data["session"])
    assert "probably" not in session.title


def test_a_photo_search_names_its_photo(api_client_a, shapes):
    from retrieval.models import LibraryImage

    photo = LibraryImage.objects.filter(library=shapes, category="bars").first()
    photo.caption = "Three bars"
    photo.save()
    response = api_client_a.post(
        "/api/search/", {"image": photo.pk, "top_k": 5, "new_session": True}, format="json"
    )
    session = SearchSession.objects.get(pk=response.json()["session"])
    assert session.title == f"{_started(session)} · like “Three bars” · 1 search"


def test_a_renamed_session_keeps_its_name_and_blank_gives_the_automatic_one_back(
    api_client_a, shapes
):
    data = _search(api_client_a, "cross", new_session=True)
    url = f"/api/sessions/{data['session']}/"
    response = api_client_a.patch(url, {"title": "Crosses for the poster"}, format="json")
    assert response.status_code == 200
    _search(api_client_a, "bars")
    session = SearchSession.objects.get(pk=data["session"])
    assert session.title == "Crosses for the poster"
    renamed = api_client_a.patch(url, {"title": "  "}, format="json").json()
    assert renamed["title"] == f"{_started(session)} · probably a cross · 2 searches"
    _search(api_client_a, "circle")  # automatic again: it follows the searches
    session.refresh_from_db()
    assert session.title.endswith(" · 3 searches")


def test_a_title_of_the_old_scheme_is_retitled_by_the_next_search(api_client_a, shapes):
    data = _search(api_client_a, "cross", new_session=True)
    session = SearchSession.objects.get(pk=data["session"])
    session.title = sessions.default_title(libraries=[shapes], when=session.created_at)
    session.save()
    _search(api_client_a, "circle")
    session.refresh_from_db()
    assert session.title == f"{_started(session)} · probably a cross · 2 searches"


def test_subject_wording():
    assert sessions.probable_subject(["house"] * 3 + ["boat"] * 2) == "probably a house"
    assert sessions.probable_subject(["apple", "apple", "apple"]) == "probably an apple"
    assert sessions.probable_subject(["wading_bird"] * 4) == "probably a wading bird"
    # Unlabelled, split, or far results say nothing.
    assert sessions.probable_subject(["", "", ""]) == ""
    assert sessions.probable_subject(["a", "b", "a", "b", "c"]) == ""
    assert sessions.probable_subject(["house"] * 5, far=True) == ""
    # A tie goes to the better-ranked category.
    assert sessions.probable_subject(["boat", "house"] * 3) == "probably a boat"


# --- the rename form on the session page ------------------------------------------------------


def test_session_page_has_a_rename_form_that_renames(client_a, api_client_a, shapes):
    data = _search(api_client_a, "cross", new_session=True)
    page = client_a.get(reverse("retrieval:session-detail", args=[data["session"]]))
    rename_url = reverse("retrieval:session-rename", args=[data["session"]])
    assert f'action="{rename_url}"' in page.content.decode()
    response = client_a.post(rename_url, {"title": "  Poster crosses "}, follow=True)
    assert response.status_code == 200
    assert SearchSession.objects.get(pk=data["session"]).title == "Poster crosses"
    assert "<h1>Poster crosses</h1>" in response.content.decode()


def test_rename_form_refuses_control_characters_and_keeps_the_title(client_a, api_client_a, shapes):
    data = _search(api_client_a, "cross", new_session=True)
    before = SearchSession.objects.get(pk=data["session"]).title
    response = client_a.post(
        reverse("retrieval:session-rename", args=[data["session"]]),
        {"title": "Poster\x07"},
        follow=True,
    )
    assert "control characters" in response.content.decode()
    assert SearchSession.objects.get(pk=data["session"]).title == before


def test_rename_is_post_only_and_the_owners_alone(client_a, client_admin_a, api_client_a, shapes):
    data = _search(api_client_a, "cross", new_session=True)
    url = reverse("retrieval:session-rename", args=[data["session"]])
    assert client_a.get(url).status_code == 405
    # A colleague of the same organisation gets the stranger's 404.
    assert client_admin_a.post(url, {"title": "Mine now"}).status_code == 404
