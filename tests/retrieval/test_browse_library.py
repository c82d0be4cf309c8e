"""Members browse what a library holds (issue 21, item 6).

A member could not see a library's photos (the library pages are for admins), so a drawing
of a fish in a library without fish returned boats with no way to tell why. Browse lists
the organisation's libraries and, per library, its searchable photos paged, with its
categories, their counts, and a category filter.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from retrieval.models import LibraryImage
from retrieval.services import images as image_services
from tests.retrieval.fakes import shape_png
from tests.retrieval.labelled import labelled_shapes

pytestmark = pytest.mark.django_db


@pytest.fixture
def shapes(make_library, tenant_a, fake_engine):
    library = labelled_shapes(make_library(tenant_a, name="Shapes"), per_shape=3)
    # One unlabelled photo, and one not indexed yet (a search cannot return it).
    LibraryImage.objects.filter(library=library, original_name="bars-0.png").update(category="")
    image_services.images_import(
        library=library,
        items=[image_services.UploadItem(name="waiting.png", data=shape_png("circle", seed=9))],
        enqueue=False,
    )
    return library


def _counts(html: str) -> dict[str, int]:
    """{chip label: count} of the category chips of a browse page."""
    chips = re.findall(r'data-category="([^"]*)"[^>]*>[^<]*<span data-count>(\d+)</span>', html)
    return {name: int(n) for name, n in chips}


def test_members_find_browse_in_the_navigation(client_a, shapes):
    html = client_a.get(reverse("retrieval:search")).content.decode()
    assert f'href="{reverse("retrieval:browse")}">Browse</a>' in html
    listing = client_a.get(reverse("retrieval:browse")).content.decode()
    assert reverse("retrieval:library-browse", args=[shapes.pk]) in listing
    assert "15 photos in 5 categories" in listing.replace("\n", " ")


def test_a_member_sees_a_librarys_categories_counts_and_photos(client_a, shapes):
    response = client_a.get(reverse("retrieval:library-browse", args=[shapes.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert _counts(html) == {"bars": 2, "circle": 3, "cross": 3, "square": 3, "triangle": 3, "": 1}
    assert "<span data-count>15</span>" in html  # "All": the indexed photos only
    shown = set(map(int, re.findall(r'data-image-id="(\d+)"', html)))
    indexed = set(
        LibraryImage.objects.filter(library=shapes, status="indexed").values_list("pk", flat=True)
    )
    assert shown == indexed  # the photo still waiting to be indexed is not offered
    # Each photo links to "more like this" (a search with it).
    assert f"{reverse('retrieval:search')}?like=" in html


def test_the_category_filter_and_the_unlabelled_chip(client_a, shapes):
    url = reverse("retrieval:library-browse", args=[shapes.pk])
    html = client_a.get(url, {"category": "cross"}).content.decode()
    shown = set(map(int, re.findall(r'data-image-id="(\d+)"', html)))
    assert shown == set(
        LibraryImage.objects.filter(library=shapes, category="cross").values_list("pk", flat=True)
    )
    assert 'data-category="cross" aria-current="page"' in html
    html = client_a.get(url, {"unlabelled": "1"}).content.decode()
    assert re.findall(r'data-image-id="(\d+)"', html) == [
        str(LibraryImage.objects.get(library=shapes, original_name="bars-0.png").pk)
    ]


def test_browse_is_paged(client_a, shapes, settings, monkeypatch):
    from retrieval import views

    monkeypatch.setattr(views, "BROWSE_PER_PAGE", 4)
    url = reverse("retrieval:library-browse", args=[shapes.pk])
    first = client_a.get(url, {"category": "circle"}).content.decode()
    assert "Page 1 of 1" not in first and len(re.findall(r'data-image-id="', first)) == 3
    all_pages = client_a.get(url).content.decode()
    assert "Page 1 of 4" in all_pages
    assert "?page=2" in all_pages
    last = client_a.get(url, {"page": 4}).content.decode()
    assert len(re.findall(r'data-image-id="', last)) == 3  # 15 = 4 + 4 + 4 + 3


def test_another_organisations_library_is_a_404(client_b, shapes):
    assert client_b.get(reverse("retrieval:library-browse", args=[shapes.pk])).status_code == 404
    assert "Shapes" not in client_b.get(reverse("retrieval:browse")).content.decode()


def test_paging_keeps_the_filter(client_a, shapes, monkeypatch):
    from retrieval import views

    monkeypatch.setattr(views, "BROWSE_PER_PAGE", 1)
    url = reverse("retrieval:library-browse", args=[shapes.pk])
    html = client_a.get(url, {"category": "circle", "page": 2}).content.decode()
    assert "?page=1&amp;category=circle" in html and "?page=3&amp;category=circle" in html
    html = client_a.get(url, {"unlabelled": "1"}).content.decode()
    assert "pager" not in html  # one unlabelled photo: one page, no links


def test_page_query_keeps_only_the_filters_given():
    from retrieval.views import page_query

    assert page_query(q="red car", status=None) == "&q=red+car"
    assert page_query(category="", unlabelled="") == ""
