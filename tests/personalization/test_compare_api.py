"""Before / after over HTTP: ``/api/queries/<id>/compare/`` and its page (the service itself:
test_before_after.py)."""

from __future__ import annotations

import pytest

from retrieval.models import LibraryImage
from tests.searching import post_search

pytestmark = pytest.mark.django_db


def _search(client, **body):
    return post_search(client, **body)


def test_compare_api_of_a_query_whose_libraries_are_gone_is_409(
    api_client_a, client_a, indexed_library, fake_engine
):
    data = _search(api_client_a)
    indexed_library.delete()
    response = api_client_a.get(f"/api/queries/{data['id']}/compare/")
    assert response.status_code == 409
    page = client_a.get(f"/queries/{data['id']}/compare/")
    assert page.status_code == 200 and "no longer exist" in page.content.decode()


def test_compare_of_a_more_like_this_query_reads_the_photo_again(
    api_client_a, indexed_library, fake_engine
):
    photo = LibraryImage.objects.filter(library=indexed_library, original_name="circle-0.png")[0]
    data = _search(api_client_a, strokes=None, image=photo.pk)
    compared = api_client_a.get(f"/api/queries/{data['id']}/compare/").json()
    assert compared["query_kind"] == "photo"
    assert [r["image_id"] for r in compared["now_general"]] == [
        r["image_id"] for r in data["results"]
    ]
    assert photo.pk not in [r["image_id"] for r in compared["now_personal"]]
