"""More like this: a search whose query is a library photo (its stored vector), not strokes."""

from __future__ import annotations

import numpy as np
import pytest

from personalization.models import Feedback
from retrieval import index_store
from retrieval.engine.heads import new_head
from retrieval.engine.query_expansion import expand_against
from retrieval.models import LibraryImage, SearchResult, SketchQuery
from tests.personalization import factories as pz_factories
from tests.retrieval.conftest import add_shapes
from tests.retrieval.fakes import circle_strokes
from tests.searching import served_vectors

pytestmark = pytest.mark.django_db
URL = "/api/search/"


def _photo(library, name: str) -> LibraryImage:
    return LibraryImage.objects.get(library=library, original_name=name)


def test_more_like_this_finds_the_same_shape_first_and_leaves_the_photo_out(
    api_client_a, member_a, indexed_library, fake_engine, settings
):
    circle = _photo(indexed_library, "circle-0.png")
    calls = fake_engine.calls
    response = api_client_a.post(URL, {"image": circle.pk, "top_k": 5}, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    names = [r["original_name"] for r in data["results"]]
    assert names[0] == "circle-1.png"
    assert "circle-0.png" not in names
    assert data["source_image"] == circle.pk and data["strokes"] is None
    assert fake_engine.calls == calls  # no photo went through the network again

    query = SketchQuery.objects.get(pk=data["id"])
    assert query.source_image == circle and query.user == member_a
    # Its stored trunk map is the photo's cached one (personal heads train from it).
    cached = index_store.feature_store(indexed_library, fake_engine.model_version).get(
        np.array([circle.pk])
    )[0]
    assert np.array_equal(np.frombuffer(bytes(query.features), np.float16), cached.ravel())
    assert query.sketch_image.name.endswith(".jpg")
    # Its general distances are those of the photo's stored vector, expanded with its
    # nearest photos as every query is (the photo itself among them).
    ids, photos = served_vectors(indexed_library)
    by_id = dict(zip(ids.tolist(), photos, strict=True))
    asked = expand_against(by_id[circle.pk][None], photos, settings.PSBIR_QUERY_EXPANSION)[0]
    first = SearchResult.objects.get(query=query, rank=1)
    other = by_id[first.image_id]
    assert first.general_distance == pytest.approx(float(np.linalg.norm(asked - other)), 1e-4)


def test_more_like_this_joins_the_session_and_takes_feedback(
    api_client_a, member_a, indexed_library, fake_engine
):
    first = api_client_a.post(URL, {"strokes": circle_strokes(), "top_k": 3}, format="json")
    session = first.json()["session"]
    image_id = first.json()["results"][0]["image_id"]
    like = api_client_a.post(
        URL, {"image": image_id, "session": session, "top_k": 3}, format="json"
    ).json()
    assert like["session"] == session
    assert SketchQuery.objects.filter(session_id=session).count() == 2
    result = like["results"][0]
    marked = api_client_a.post(
        "/api/personalization/feedback/",
        {"query_id": like["id"], "result_ids": [result["id"]]},
        format="json",
    )
    assert marked.status_code in (200, 201), marked.json()
    assert Feedback.objects.filter(query_id=like["id"], user=member_a).count() == 1
    detail = api_client_a.get(f"/api/sessions/{session}/").json()
    assert {q["source_image"] for q in detail["queries"]} == {None, image_id}


def test_more_like_this_is_personalized_like_a_sketch(
    api_client_a, member_a, indexed_library, fake_engine, settings, tmp_path
):
    settings.PSBIR_CLOSENESS_FILE = pz_factories.closeness_file(tmp_path, fake_engine.model_version)
    pz_factories.make_head(
        member_a, head=new_head("vgg16_hed", 3), model_version=fake_engine.model_version
    )
    circle = _photo(indexed_library, "circle-0.png")
    body = {"image": circle.pk, "top_k": 4, "personal_weight": 0.5}
    first = api_client_a.post(URL, body, format="json").json()
    # Nothing taught yet: the general ranking, whatever the head.
    assert first["personal_head_version"] is None and first["personal_weight"] == 0.0
    api_client_a.post(
        "/api/personalization/feedback/",
        {"query_id": first["id"], "result_ids": [first["results"][0]["id"]]},
        format="json",
    )
    data = api_client_a.post(URL, body, format="json").json()  # the same photo again: close
    assert data["personal_head_version"] == 1 and data["personal_weight"] == 0.5
    assert all(r["personal_distance"] is not None for r in data["results"])


def test_another_tenants_photo_is_a_404_and_nothing_is_stored(
    api_client_b, tenant_a, tenant_b, make_library, fake_engine
):
    library_a, library_b = make_library(tenant_a), make_library(tenant_b)
    add_shapes(library_a, shapes=("circle",))
    add_shapes(library_b, shapes=("square",))
    foreign = LibraryImage.objects.filter(library=library_a).first()
    response = api_client_b.post(URL, {"image": foreign.pk}, format="json")
    assert response.status_code == 404
    assert not SketchQuery.objects.exists()


def test_a_photo_not_in_the_index_yet_is_a_409(api_client_a, indexed_library, fake_engine):
    photo = LibraryImage.objects.filter(library=indexed_library).first()
    photo.status = LibraryImage.Status.PENDING
    photo.save(update_fields=["status"])
    response = api_client_a.post(URL, {"image": photo.pk}, format="json")
    assert response.status_code == 409
    assert "not in the index" in response.json()["detail"]


@pytest.mark.parametrize("value", [0, -3, "x", True])
def test_bad_image_ids_are_400(api_client_a, indexed_library, fake_engine, value):
    response = api_client_a.post(URL, {"image": value}, format="json")
    assert response.status_code == 400


def test_search_page_runs_more_like_this_from_a_link(client_a, indexed_library, fake_engine):
    circle = _photo(indexed_library, "circle-0.png")
    page = client_a.get(f"/search/?like={circle.pk}")
    assert page.status_code == 200
    assert f'data-like-image-id="{circle.pk}"' in page.content.decode()


def test_search_page_like_link_of_another_tenant_is_a_404(client_b, indexed_library, fake_engine):
    circle = _photo(indexed_library, "circle-0.png")
    assert client_b.get(f"/search/?like={circle.pk}").status_code == 404
