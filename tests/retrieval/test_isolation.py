"""Search and websocket isolation the route matrix cannot express (see isolation_routes.py)."""

from __future__ import annotations

import pytest

from psbir_site.models import OutboxEvent
from retrieval.models import SearchResult, SearchSession, SketchQuery
from retrieval.services import images as image_services
from tests.retrieval.conftest import add_shapes
from tests.retrieval.fakes import circle_strokes, shape_png

pytestmark = pytest.mark.django_db


def test_search_never_reaches_another_tenants_library_or_session(
    api_client_b, member_a, tenant_a, tenant_b, make_library, fake_engine
):
    library_a, library_b = make_library(tenant_a), make_library(tenant_b)
    add_shapes(library_a, shapes=("circle",))
    add_shapes(library_b, shapes=("square",))
    session_a = SearchSession.objects.create(tenant=tenant_a, user=member_a)
    body = {"strokes": circle_strokes(), "tenant": tenant_a.pk, "tenant_id": tenant_a.pk}

    assert (
        api_client_b.post(
            "/api/search/", {**body, "libraries": [library_a.pk]}, format="json"
        ).status_code
        == 400
    )
    assert (
        api_client_b.post(
            "/api/search/", {**body, "session": session_a.pk}, format="json"
        ).status_code
        == 404
    )
    response = api_client_b.post("/api/search/", body, format="json")  # "all my libraries"
    assert response.status_code == 201
    data = response.json()
    assert data["libraries"] == [library_b.pk]
    query = SketchQuery.objects.get(pk=data["id"])
    assert query.tenant_id == tenant_b.pk and query.session.tenant_id == tenant_b.pk
    results = SearchResult.objects.filter(query=query)
    assert results and {r.tenant_id for r in results} == {tenant_b.pk}
    assert {r.image.library_id for r in results} == {library_b.pk}
    assert not SketchQuery.objects.filter(tenant=tenant_a).exists()


def test_index_progress_goes_to_the_owning_tenants_admins_only(
    make_library, tenant_a, tenant_b, fake_engine, q_sync, run_on_commit
):
    library = make_library(tenant_a)
    make_library(tenant_b)
    with run_on_commit():
        image_services.images_import(
            library=library,
            items=[image_services.UploadItem(name="c.png", data=shape_png("circle"))],
        )
    groups = set(OutboxEvent.objects.values_list("group", flat=True))
    assert groups == {f"tenant-{tenant_a.pk}-admins"}
