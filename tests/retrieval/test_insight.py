"""Why this result (API, pages) and what the index holds for a library photo (admins)."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval import vector_stores
from retrieval.engine.heads import new_head
from retrieval.models import LibraryImage
from retrieval.services import indexing
from tests.personalization import factories as pz_factories
from tests.retrieval.fakes import circle_strokes
from tests.searching import post_search

pytestmark = pytest.mark.django_db


def _search(client, **body):
    return post_search(client, **body)


def test_why_gives_the_distances_w_and_what_to_overlay(
    api_client_a, member_a, indexed_library, fake_engine, settings, tmp_path
):
    settings.PSBIR_CLOSENESS_FILE = pz_factories.closeness_file(tmp_path, fake_engine.model_version)
    pz_factories.make_head(
        member_a, head=new_head("vgg16_hed", 3), model_version=fake_engine.model_version
    )
    # Feedback on the same drawing first: the next search of it is personalized.
    taught = _search(api_client_a)
    api_client_a.post(
        "/api/personalization/feedback/",
        {"query_id": taught["id"], "result_ids": [taught["results"][0]["id"]]},
        format="json",
    )
    data = _search(api_client_a, personal_weight=0.4)
    result = data["results"][1]
    why = api_client_a.get(f"/api/results/{result['id']}/why/").json()
    assert why["result_id"] == result["id"] and why["rank"] == 2
    assert why["general_distance"] == pytest.approx(result["general_distance"])
    assert why["personal_distance"] == pytest.approx(result["personal_distance"])
    assert why["distance"] == pytest.approx(result["distance"])
    assert why["personal_weight"] == 0.4 and why["personal_head_version"] == 1
    assert why["query_kind"] == "strokes" and why["strokes"] == circle_strokes()
    assert why["sketch_url"] == f"/media/queries/{data['id']}/sketch"
    assert why["photo_url"] == f"/media/images/{result['image_id']}/photo"
    # The fake engine stores an edge map (an edge trunk): it is offered for the overlay too.
    assert why["edges_url"] == f"/media/images/{result['image_id']}/edges"
    assert why["overlay_frame"] == "square-256-white-padded"
    assert why["closeness"] == pytest.approx(1.0)
    assert sum(t["product"] for t in why["terms"]) == pytest.approx(why["distance"])
    assert why["moved_by"]["query_id"] == taught["id"]


def test_why_without_a_personal_model_has_no_personal_distance(
    api_client_a, indexed_library, fake_engine
):
    result = _search(api_client_a)["results"][0]
    why = api_client_a.get(f"/api/results/{result['id']}/why/").json()
    assert why["personal_distance"] is None and why["personal_head_version"] is None
    assert why["distance"] == pytest.approx(why["general_distance"])


def test_why_of_a_photo_query_says_so(api_client_a, indexed_library, fake_engine):
    photo = LibraryImage.objects.filter(library=indexed_library).first()
    result = _search(api_client_a, strokes=None, image=photo.pk)["results"][0]
    why = api_client_a.get(f"/api/results/{result['id']}/why/").json()
    assert why["query_kind"] == "photo" and why["source_image"] == photo.pk
    assert why["strokes"] is None


def test_a_colleagues_result_cannot_be_explained(
    api_client_a, indexed_library, fake_engine, make_user, tenant_a
):
    from rest_framework.test import APIClient

    result = _search(api_client_a)["results"][0]
    colleague = APIClient()
    colleague.force_authenticate(make_user(tenant_a))
    assert colleague.get(f"/api/results/{result['id']}/why/").status_code == 404


def test_admin_sees_what_the_index_holds_for_a_photo(
    api_client_admin_a, api_client_a, client_admin_a, indexed_library, fake_engine
):
    photo = LibraryImage.objects.filter(library=indexed_library).first()
    entry = api_client_admin_a.get(f"/api/images/{photo.pk}/index-entry/").json()
    vector = vector_stores.active_store().vectors([indexed_library], [photo.pk])[photo.pk]
    assert entry["in_index"] is True and entry["trunk_map_cached"] is True
    assert entry["vector_norm"] == pytest.approx(float(np.linalg.norm(vector)), rel=1e-5)
    assert entry["vector_preview"] == pytest.approx(vector[:8].tolist(), abs=1e-4)
    assert entry["trunk_map_shape"] == [512, 8, 8]
    assert entry["library_model_version"] == fake_engine.model_version
    assert entry["edges_url"] == f"/media/images/{photo.pk}/edges"
    assert api_client_a.get(f"/api/images/{photo.pk}/index-entry/").status_code == 403

    page = client_admin_a.get(f"/images/{photo.pk}/").content.decode()
    assert "What the index holds" in page and "512×8×8" in page
    assert f'href="/search/?like={photo.pk}"' in page


def test_a_photo_not_indexed_yet_shows_that_the_index_lacks_it(
    api_client_admin_a, indexed_library, fake_engine
):
    photo = LibraryImage.objects.filter(library=indexed_library).first()
    indexing.index_remove(library=indexed_library, image_ids=[photo.pk])
    entry = api_client_admin_a.get(f"/api/images/{photo.pk}/index-entry/").json()
    assert entry["in_index"] is False and entry["vector_norm"] is None


def test_session_page_offers_compare_and_the_result_tools(
    api_client_a, client_a, indexed_library, fake_engine
):
    data = _search(api_client_a)
    photo = LibraryImage.objects.filter(library=indexed_library).first()
    _search(api_client_a, strokes=None, image=photo.pk, session=data["session"])
    page = client_a.get(f"/sessions/{data['session']}/").content.decode()
    assert f'href="/queries/{data["id"]}/compare/"' in page
    assert "js/result-tools.js" in page and 'data-why-url-template="/api/results/0/why/"' in page
    assert "More like “Circle”" in page  # its file name, cleaned (issue 21)


def test_the_insight_endpoints_and_the_image_query_are_in_the_schema():
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    problems = {**GENERATOR_STATS._warn_cache, **GENERATOR_STATS._error_cache}
    GENERATOR_STATS.reset()
    mine = [p for p in problems if any(w in p for w in ("insight", "search_", "Comparison", "Why"))]
    assert not mine, mine
    paths = schema["paths"]
    assert set(paths["/api/queries/{id}/compare/"]) == {"get"}
    assert set(paths["/api/results/{id}/why/"]) == {"get"}
    assert set(paths["/api/images/{id}/index-entry/"]) == {"get"}
    compare = paths["/api/queries/{id}/compare/"]["get"]["responses"]
    assert {"200", "404", "409", "503"} <= set(compare)
    search = schema["components"]["schemas"]["SearchRequestRequest"]["properties"]
    assert search["image"]["type"] == "integer" and search["image"]["nullable"] is True
    summary = schema["components"]["schemas"]["QuerySummary"]["properties"]
    assert "source_image" in summary
    assert "404" in paths["/api/search/"]["post"]["responses"]
