"""Seeing and undoing what feedback did: "why this result" names the mark that moved a photo
and shows terms that add up to its score; one call forgets a search's or a session's marks."""

from __future__ import annotations

import numpy as np
import pytest

from personalization.models import Feedback
from retrieval.models import SearchResult
from tests.personalization import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def marked(member_a):
    rng = np.random.default_rng(0)
    library = factories.make_library(member_a.tenant)
    images = factories.add_images(
        library, (rng.random((4, 512, 8, 8)) * 20).astype(np.float32), [("c", "s")] * 4
    )
    query = factories.teach(member_a, library, images)
    return member_a, library, images, query


def forget_query(query_id) -> str:
    return f"/api/personalization/queries/{query_id}/forget/"


def forget_session(session_id) -> str:
    return f"/api/personalization/sessions/{session_id}/forget/"


def test_forget_one_search_through_the_api(api_client_a, marked):
    user, _, _, query = marked
    response = api_client_a.post(forget_query(query.pk))
    assert response.status_code == 200 and response.json() == {"withdrawn": 1}
    assert not Feedback.objects.filter(user=user, withdrawn_at=None).exists()
    assert api_client_a.post(forget_query(query.pk)).json() == {"withdrawn": 0}


def test_forget_a_session_through_the_api(api_client_a, marked):
    user, library, images, query = marked
    factories.teach(user, library, images, session=query.session)
    assert api_client_a.post(forget_session(query.session_id)).json() == {"withdrawn": 2}


def test_forget_someone_elses_search_is_a_404(api_client_b, admin_a, marked):
    _, _, _, query = marked
    assert api_client_b.post(forget_query(query.pk)).status_code == 404
    assert api_client_b.post(forget_session(query.session_id)).status_code == 404
    assert Feedback.objects.filter(withdrawn_at=None).count() == 1


def test_why_shows_the_terms_that_add_up_and_the_mark_that_moved_the_photo(api_client_a, marked):
    user, library, images, taught = marked
    later, results = factories.make_query(user, [library], None, images)
    marked_image = taught.results.order_by("rank").first().image_id
    result = results[1]
    result.distance = 0.25 * 1.2 + 0.25 * 0.9 + 0.5 * 0.3
    result.general_distance = 1.2
    result.terms = {
        "general": [0.25, 1.2],
        "head": [0.25, 0.9],
        "marks": [0.5, 0.3],
        "mark": {"image_id": marked_image, "query_id": taught.pk},
    }
    result.save()
    why = api_client_a.get(f"/api/results/{result.pk}/why/").json()
    assert [t["name"] for t in why["terms"]] == ["general", "head", "marks"]
    assert sum(t["product"] for t in why["terms"]) == pytest.approx(why["distance"])
    moved = why["moved_by"]
    assert moved["query_id"] == taught.pk and moved["session_id"] == taught.session_id
    assert moved["marked_this_photo"] is (result.image_id == marked_image)
    assert moved["query_sketch_url"].endswith(f"/queries/{taught.pk}/sketch")


def test_why_of_a_general_result_and_of_an_old_personalized_one(api_client_a, marked):
    user, library, images, _ = marked
    _, results = factories.make_query(user, [library], None, images)
    why = api_client_a.get(f"/api/results/{results[0].pk}/why/").json()
    assert why["terms"] == [
        {
            "name": "general",
            "label": "general model",
            "share": 1.0,
            "distance": results[0].general_distance,
            "product": results[0].general_distance,
        }
    ]
    assert why["moved_by"] is None and why["closeness"] == 0.0
    SearchResult.objects.filter(pk=results[1].pk).update(personal_distance=0.4)
    assert api_client_a.get(f"/api/results/{results[1].pk}/why/").json()["terms"] is None
