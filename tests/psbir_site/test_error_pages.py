"""The project's own "not found" and "something went wrong" pages (debug is off): never
Django's debug page, which lists the site's routes to whoever hits a missing URL."""

from __future__ import annotations

import numpy as np
import pytest
from django.template.loader import render_to_string

from tests.personalization import factories

pytestmark = pytest.mark.django_db


def assert_own_404(response) -> None:
    assert response.status_code == 404
    assert "404.html" in [t.name for t in response.templates]
    page = response.content.decode()
    assert "Not found" in page and "URLconf" not in page and "Using the URLconf" not in page


def test_an_unknown_page_is_the_projects_not_found_page(client_a, settings):
    settings.DEBUG = False
    assert_own_404(client_a.get("/no-such-page/"))


def test_another_organisations_photo_for_more_like_this_is_not_found(
    client_b, tenant_a, member_a, settings
):
    settings.DEBUG = False
    library = factories.make_library(tenant_a)
    (image,) = factories.add_images(
        library, np.zeros((1, 512, 8, 8)), [("c", "s")], store_features=False
    )
    assert_own_404(client_b.get(f"/search/?like={image.pk}"))


def test_the_error_page_renders_without_a_request():
    page = render_to_string("500.html")
    assert "Something went wrong" in page and "{%" not in page
