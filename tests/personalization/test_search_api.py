"""POST /api/search/: results in distance order, stored queries, validation, stale indexes."""

from __future__ import annotations

import os

import numpy as np
import pytest
from django.urls import reverse
from rest_framework.throttling import ScopedRateThrottle

from personalization import ranking
from personalization.services import search as search_service
from retrieval.engine.query_expansion import expand_against
from retrieval.models import IndexJob, LibraryImage, SearchResult, SearchSession, SketchQuery
from tests.retrieval.conftest import add_shapes
from tests.retrieval.fakes import circle_strokes, shape_png, square_strokes
from tests.searching import served_vectors

pytestmark = pytest.mark.django_db
URL = "/api/search/"


def _search(client, **body):
    body.setdefault("strokes", circle_strokes())
    return client.post(URL, body, format="json")


def test_search_returns_results_in_distance_order_and_stores_the_query(
    api_client_a, member_a, indexed_library, fake_engine
):
    response = _search(api_client_a, libraries=[indexed_library.pk], top_k=6)
    assert response.status_code == 201, response.json()
    data = response.json()
    results = data["results"]
    assert len(results) == 6
    distances = [r["distance"] for r in results]
    assert distances == sorted(distances)
    assert [r["rank"] for r in results] == [1, 2, 3, 4, 5, 6]
    # The fake engine compares ink layouts: a drawn circle is nearest the circle photos.
    assert {results[0]["original_name"], results[1]["original_name"]} == {
        "circle-0.png",
        "circle-1.png",
    }
    assert all(r["general_distance"] == r["distance"] for r in results)

    query = SketchQuery.objects.get(pk=data["id"])
    assert query.user == member_a and query.tenant_id == member_a.tenant_id
    assert query.top_k == 6 and query.strokes == circle_strokes()
    assert query.model_version == fake_engine.model_version
    assert len(bytes(query.features)) == 512 * 8 * 8 * 2  # float16 conv5 map
    assert query.sketch_image.name.endswith(".png")
    assert list(query.libraries.all()) == [indexed_library]
    stored = list(SearchResult.objects.filter(query=query).order_by("rank"))
    assert [r.pk for r in stored] == [r["id"] for r in results]
    assert [r.image_id for r in stored] == [r["image_id"] for r in results]
    assert data["session"] == query.session_id
    assert SearchSession.objects.get(pk=data["session"]).user == member_a


def test_default_k_and_all_libraries_when_omitted(
    api_client_a, tenant_a, make_library, fake_engine, settings
):
    settings.PSBIR_DEFAULT_TOP_K = 3
    first, second = make_library(tenant_a), make_library(tenant_a)
    add_shapes(first, shapes=("circle", "square"))
    add_shapes(second, shapes=("circle", "cross"))
    response = api_client_a.post(URL, {"strokes": circle_strokes()}, format="json")
    assert response.status_code == 201, response.json()
    results = response.json()["results"]
    assert len(results) == 3
    assert sorted(response.json()["libraries"]) == sorted([first.pk, second.pk])


def test_searching_two_libraries_merges_by_distance(
    api_client_a, tenant_a, make_library, fake_engine
):
    first, second = make_library(tenant_a), make_library(tenant_a)
    add_shapes(first, shapes=("square", "cross"))
    add_shapes(second, shapes=("circle", "bars"))
    response = _search(api_client_a, libraries=[first.pk, second.pk], top_k=8)
    results = response.json()["results"]
    assert len(results) == 8
    assert {r["library_id"] for r in results} == {first.pk, second.pk}
    distances = [r["distance"] for r in results]
    assert distances == sorted(distances)
    assert results[0]["library_id"] == second.pk  # the circles


def test_a_second_query_can_join_the_same_session(api_client_a, indexed_library, fake_engine):
    first = _search(api_client_a, top_k=3).json()
    second = _search(
        api_client_a, top_k=3, session=first["session"], strokes=square_strokes()
    ).json()
    assert second["session"] == first["session"]
    assert SketchQuery.objects.filter(session_id=first["session"]).count() == 2


def test_sketch_image_upload_searches_too(api_client_a, indexed_library, fake_engine):
    response = api_client_a.post(
        URL,
        {
            "sketch": _file("sketch.png", shape_png("square")),
            "top_k": "4",
            "libraries": [indexed_library.pk],
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["strokes"] is None and len(data["results"]) == 4
    assert SketchQuery.objects.get(pk=data["id"]).sketch_image


def _file(name, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="image/png")


@pytest.mark.parametrize(
    ("body", "field", "text"),
    [
        ({"top_k": 0}, "top_k", "from 1 to 200"),
        ({"top_k": 201}, "top_k", "from 1 to 200"),
        ({"top_k": "many"}, "top_k", ""),
        ({"personal_weight": 1.5}, "personal_weight", "from 0 to 1"),
        ({"personal_weight": -0.1}, "personal_weight", "from 0 to 1"),
        ({"strokes": None}, "strokes", "Draw a sketch"),
        ({"strokes": [1, 2]}, "strokes", "object"),
        ({"strokes": {"width": 512, "height": 512, "strokes": []}}, "strokes", ""),
        (
            {"strokes": {"width": -1, "height": 512, "strokes": [{"points": [[1, 1]]}]}},
            "strokes",
            "",
        ),
        ({"libraries": ["x"]}, "libraries", ""),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    api_client_a, indexed_library, fake_engine, body, field, text
):
    before = SketchQuery.objects.count()
    response = _search(api_client_a, **body)
    assert response.status_code == 400, response.json()
    data = response.json()
    assert field in data["errors"], data
    assert text in str(data["errors"][field])
    assert data["detail"]
    assert SketchQuery.objects.count() == before


def test_an_empty_sketch_is_refused_by_the_engine_message(
    api_client_a, indexed_library, fake_engine
):
    strokes = circle_strokes()
    strokes["strokes"].append({**strokes["strokes"][0], "width": 400, "erase": True})
    response = _search(api_client_a, strokes=strokes)
    assert response.status_code == 400
    assert "empty" in str(response.json()["errors"]["strokes"])


def test_another_tenants_library_is_an_unknown_id(api_client_b, indexed_library, fake_engine):
    response = _search(api_client_b, libraries=[indexed_library.pk])
    assert response.status_code == 400
    assert f"Unknown library id(s): {indexed_library.pk}" in str(response.json()["errors"])


def test_another_users_session_is_a_404(
    api_client_a, make_user, tenant_a, indexed_library, fake_engine
):
    colleague = make_user(tenant_a)
    session = SearchSession.objects.create(tenant=tenant_a, user=colleague)
    assert _search(api_client_a, session=session.pk).status_code == 404


def test_nothing_indexed_is_a_409(api_client_a, make_library, tenant_a, fake_engine):
    make_library(tenant_a)
    response = _search(api_client_a)
    assert response.status_code == 409
    assert "no indexed photos" in response.json()["detail"]


def test_no_library_at_all_is_a_409(api_client_a, fake_engine):
    response = _search(api_client_a)
    assert response.status_code == 409
    assert "no image library" in response.json()["detail"]


def test_index_of_another_model_version_is_never_mixed(
    api_client_a, indexed_library, fake_engine, run_on_commit, q_sync
):
    fake_engine.model_version = "fake-2"
    with run_on_commit():
        response = _search(api_client_a, libraries=[indexed_library.pk])
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "fake-1" in detail and "fake-2" in detail and "re-indexed" in detail
    # The stale library was queued for re-indexing (sync here), and now answers.
    job = IndexJob.objects.filter(library=indexed_library, kind=IndexJob.Kind.REINDEX).get()
    assert job.status == IndexJob.Status.DONE
    indexed_library.refresh_from_db()
    assert indexed_library.model_version == "fake-2"
    assert set(
        LibraryImage.objects.filter(library=indexed_library).values_list("model_version", flat=True)
    ) == {"fake-2"}
    assert _search(api_client_a, libraries=[indexed_library.pk]).status_code == 201


def test_a_stale_library_is_skipped_with_a_warning_when_others_answer(
    api_client_a, tenant_a, make_library, fake_engine
):
    fresh, stale = make_library(tenant_a), make_library(tenant_a)
    add_shapes(fresh, shapes=("circle",))
    add_shapes(stale, shapes=("square",))
    stale.model_version = "older"
    stale.save()
    response = _search(api_client_a, libraries=[fresh.pk, stale.pk])
    assert response.status_code == 201
    data = response.json()
    assert {r["library_id"] for r in data["results"]} == {fresh.pk}
    assert any(stale.name in w for w in data["warnings"])


def test_ranking_goes_through_the_personalization_seam(
    api_client_a, member_a, indexed_library, fake_engine, monkeypatch
):
    seen = {}

    def fake_rank(
        *, user, query, candidate_ids, general_distances, top_k, personal_weight, like_query_id
    ):
        seen.update(
            user=user, features=query.features, ids=candidate_ids, top_k=top_k, w=personal_weight
        )
        reverse_ids = candidate_ids[::-1][:top_k]
        images = [
            ranking.RankedImage(
                image_id=int(i), distance=float(n), general_distance=9.0, personal_distance=0.5
            )
            for n, i in enumerate(reverse_ids)
        ]
        return ranking.Ranking(images=images, personal_weight=0.7, personal_head_version=3)

    monkeypatch.setattr(search_service, "rank_for_user", fake_rank)
    response = _search(api_client_a, top_k=4, personal_weight=0.7)
    assert response.status_code == 201
    data = response.json()
    assert seen["user"] == member_a and seen["top_k"] == 4 and seen["w"] == 0.7
    assert seen["features"].shape == (512, 8, 8)
    assert len(seen["ids"]) == 10  # every indexed photo is a candidate (fewer than 200)
    assert np.all(np.diff([r["general_distance"] for r in data["results"]]) == 0)
    assert [r["image_id"] for r in data["results"]] == [int(i) for i in seen["ids"][::-1][:4]]
    assert data["personal_weight"] == 0.7 and data["personal_head_version"] == 3
    assert all(r["personal_distance"] == 0.5 for r in data["results"])


def test_search_is_throttled_with_the_search_scope(
    api_client_a, indexed_library, fake_engine, monkeypatch
):
    from django.core.cache import cache

    cache.clear()
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"search": "2/min"})
    codes = [_search(api_client_a, top_k=1).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    cache.clear()


def test_query_detail_and_session_endpoints(
    api_client_a, api_client_b, indexed_library, fake_engine
):
    data = _search(api_client_a, top_k=3).json()
    detail = api_client_a.get(f"/api/queries/{data['id']}/").json()
    assert [r["id"] for r in detail["results"]] == [r["id"] for r in data["results"]]
    assert detail["strokes"] == circle_strokes()
    sessions = api_client_a.get("/api/sessions/").json()
    assert [s["id"] for s in sessions] == [data["session"]]
    assert sessions[0]["query_count"] == 1
    session = api_client_a.get(f"/api/sessions/{data['session']}/").json()
    assert [q["id"] for q in session["queries"]] == [data["id"]]
    assert api_client_b.get(f"/api/queries/{data['id']}/").status_code == 404
    assert api_client_b.get(f"/api/sessions/{data['session']}/").status_code == 404
    assert api_client_b.get("/api/sessions/").json() == []
    renamed = api_client_a.patch(
        f"/api/sessions/{data['session']}/", {"title": "Moons"}, format="json"
    )
    assert renamed.json()["title"] == "Moons"


def test_search_page_media_urls_are_tenant_checked(
    client_a, client_b, api_client_a, indexed_library, fake_engine
):
    data = _search(api_client_a, top_k=1).json()
    photo = data["results"][0]["photo_url"]
    assert photo == reverse("retrieval:image-photo", kwargs={"pk": data["results"][0]["image_id"]})
    assert client_a.get(photo).status_code == 200
    assert client_b.get(photo).status_code == 404
    assert client_a.get(data["sketch_url"])["Content-Type"] == "image/png"
    assert client_b.get(data["sketch_url"]).status_code == 404


def test_stale_searches_do_not_restart_a_failed_reindex(api_client_a, indexed_library, fake_engine):
    fake_engine.model_version = "fake-2"
    assert _search(api_client_a).status_code == 409
    job = IndexJob.objects.get(library=indexed_library, kind=IndexJob.Kind.REINDEX)
    job.status = IndexJob.Status.FAILED
    job.save()
    assert _search(api_client_a).status_code == 409
    assert IndexJob.objects.filter(library=indexed_library, kind=IndexJob.Kind.REINDEX).count() == 1


@pytest.mark.parametrize("neighbours", [0, 3])
def test_search_ranks_with_the_query_expanded_by_its_nearest_photos(
    api_client_a, indexed_library, fake_engine, settings, neighbours
):
    settings.PSBIR_QUERY_EXPANSION = neighbours
    response = _search(api_client_a, libraries=[indexed_library.pk], top_k=10)
    assert response.status_code == 201, response.json()
    results = response.json()["results"]
    ids, photos = served_vectors(indexed_library)
    drawn = fake_engine.embed_sketch_strokes(circle_strokes()).vector
    asked = expand_against(drawn[None], photos, neighbours)[0]
    expected = np.linalg.norm(photos - asked, axis=1)
    order = np.argsort(expected, kind="stable")[:10]
    assert [r["image_id"] for r in results] == ids[order].tolist()
    got = [r["general_distance"] for r in results]
    np.testing.assert_allclose(got, expected[order], rtol=1e-4, atol=1e-5)
    if neighbours:
        plain = np.linalg.norm(photos - drawn, axis=1)
        assert not np.allclose(np.sort(plain)[:10], got, atol=1e-3)


def test_how_a_query_is_asked_defaults_to_the_measured_choice_and_reaches_the_engine(
    settings, monkeypatch
):
    import psbir_site.settings as site_settings
    from retrieval import engine_runtime
    from retrieval.engine import pipeline
    from retrieval.engine.query_expansion import DEFAULT_NEIGHBOURS

    if "PSBIR_QUERY_EXPANSION" not in os.environ:
        assert site_settings.PSBIR_QUERY_EXPANSION == DEFAULT_NEIGHBOURS
    if "PSBIR_MIRROR_QUERIES" not in os.environ:
        assert site_settings.PSBIR_MIRROR_QUERIES is True
    seen = []
    monkeypatch.setattr(pipeline, "Engine", lambda config: seen.append(config) or config)
    settings.PSBIR_MIRROR_QUERIES = False
    assert engine_runtime.build_engine().mirror_queries is False
    settings.PSBIR_MIRROR_QUERIES = True
    assert engine_runtime.build_engine().mirror_queries is True
    assert len(seen) == 2


def test_a_search_can_say_it_is_like_an_earlier_taught_one(
    api_client_a, api_client_b, member_a, indexed_library, fake_engine, settings, tmp_path
):
    from personalization.engine.closeness import PAIR_KINDS, Band, ClosenessRule, save_rule

    # Bands so narrow that only a repeat of a drawing is close: the square is far from the
    # circle the user taught.
    path = tmp_path / "closeness.json"
    narrow = {kind: Band(near=1e-6, far=2e-6) for kind in PAIR_KINDS}
    save_rule(ClosenessRule(bands=narrow, head=fake_engine.model_version), path)
    settings.PSBIR_CLOSENESS_FILE = str(path)
    first = _search(api_client_a, top_k=4, personal_weight=0.75).json()
    assert first["suggested_taught"] is None and first["like_query"] is None  # nothing taught
    api_client_a.post(
        "/api/personalization/feedback/",
        {"query_id": first["id"], "result_ids": [first["results"][-1]["id"]]},
        format="json",
    )
    square = _search(api_client_a, strokes=square_strokes(), top_k=4, personal_weight=0.75).json()
    assert square["closeness"] < 1.0
    assert square["suggested_taught"] == first["id"]
    assert square["suggested_taught_sketch_url"].endswith(f"/{first['id']}/sketch")
    assert [o["id"] for o in square["suggested_taught_searches"]] == [first["id"]]
    said_yes = _search(
        api_client_a,
        strokes=square_strokes(),
        top_k=4,
        personal_weight=0.75,
        like_query=first["id"],
    ).json()
    assert said_yes["like_query"] == first["id"] and said_yes["closeness"] == 1.0
    assert said_yes["suggested_taught"] is None
    marked_image = first["results"][-1]["image_id"]
    assert said_yes["results"][0]["image_id"] == marked_image
    assert SketchQuery.objects.get(pk=said_yes["id"]).like_query_id == first["id"]
    # A query without marks is a 400 naming the field; someone else's is a 404.
    unmarked = square["id"]
    refused = _search(api_client_a, strokes=square_strokes(), like_query=unmarked)
    assert refused.status_code == 400 and "like_query" in refused.json()["errors"]
    assert _search(api_client_b, like_query=first["id"]).status_code == 404


def test_a_search_is_offered_an_earlier_search_of_each_subject_nearest_first(
    api_client_a, member_a, indexed_library, fake_engine, settings, tmp_path
):
    from personalization.engine.closeness import PAIR_KINDS, Band, ClosenessRule, save_rule

    path = tmp_path / "closeness.json"
    narrow = {kind: Band(near=1e-6, far=2e-6) for kind in PAIR_KINDS}
    save_rule(ClosenessRule(bands=narrow, head=fake_engine.model_version), path)
    settings.PSBIR_CLOSENESS_FILE = str(path)

    def taught(strokes, avoid=()):
        query = _search(api_client_a, strokes=strokes, top_k=4, personal_weight=0.75).json()
        result = next(r for r in query["results"] if r["image_id"] not in avoid)
        api_client_a.post(
            "/api/personalization/feedback/",
            {"query_id": query["id"], "result_ids": [result["id"]]},
            format="json",
        )
        return query, result["image_id"]

    # Two subjects: no marked photo in common.
    circle, circle_photo = taught(circle_strokes())
    square, _ = taught(square_strokes(), avoid={circle_photo})
    small = _search(
        api_client_a, strokes=circle_strokes(radius=60), top_k=4, personal_weight=0.75
    ).json()
    offered = small["suggested_taught_searches"]
    assert sorted(o["id"] for o in offered) == sorted([circle["id"], square["id"]])
    assert small["suggested_taught"] == offered[0]["id"]
    assert all(o["sketch_url"].endswith(f"/{o['id']}/sketch") for o in offered)
    stored = SketchQuery.objects.get(pk=small["id"])
    assert stored.suggested_taught_ids == [o["id"] for o in offered]
    # An offered search deleted since is no longer offered when the query is read back.
    SketchQuery.objects.filter(pk=offered[1]["id"]).delete()
    again = api_client_a.get(f"/api/queries/{small['id']}/").json()
    assert [o["id"] for o in again["suggested_taught_searches"]] == [offered[0]["id"]]
    assert again["suggested_taught"] == offered[0]["id"]
    # The nearest offer deleted too: none is left, and none is named.
    SketchQuery.objects.filter(pk=offered[0]["id"]).delete()
    gone = api_client_a.get(f"/api/queries/{small['id']}/").json()
    assert gone["suggested_taught"] is None and gone["suggested_taught_sketch_url"] is None
    assert gone["suggested_taught_searches"] == []


def test_a_session_list_checks_its_queries_offers_in_one_lookup(api_client_a, member_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.personalization import factories

    earlier = [factories.make_query(member_a, [], None, [])[0] for _ in range(3)]
    session = SearchSession.objects.create(tenant_id=member_a.tenant_id, user=member_a)

    def offering(n: int) -> tuple[dict, list[str]]:
        """Add ``n`` queries to the session that offered the earlier ones; read it back."""
        for _ in range(n):
            query = factories.make_query(member_a, [], None, [], session=session)[0]
            query.suggested_taught_ids = [q.pk for q in earlier]
            query.save(update_fields=["suggested_taught_ids"])
        with CaptureQueriesContext(connection) as sql:
            data = api_client_a.get(f"/api/sessions/{session.pk}/").json()
        return data, [q["sql"] for q in sql.captured_queries]

    _, one = offering(1)
    data, five = offering(4)
    assert len(five) == len(one)  # not one more lookup per query
    assert all(
        [o["id"] for o in q["suggested_taught_searches"]] == [e.pk for e in earlier]
        for q in data["queries"]
    )
    # A search deleted since is left out of every query's offers.
    earlier[1].delete()
    data, _ = offering(0)
    assert {tuple(o["id"] for o in q["suggested_taught_searches"]) for q in data["queries"]} == {
        (earlier[0].pk, earlier[2].pk)
    }
