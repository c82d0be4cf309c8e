"""Layout a person sees, in Chromium: the search page's subtitle sits under its title, and
the admin's photo grid shows whole file names (wrapped), with the full name on hover."""

from __future__ import annotations

import numpy as np
import pytest

from tests.browser import chromium
from tests.e2e.static_page import rendered_page
from tests.personalization import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def test_the_search_pages_subtitle_is_under_its_title(client_a, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright runs an event loop
    html = client_a.get("/search/").content.decode()
    with chromium() as browser, rendered_page(browser, html) as page:
        title = page.locator(".page-head h1").bounding_box()
        subtitle = page.locator(".page-head > p").bounding_box()
        assert abs(subtitle["x"] - title["x"]) <= 1, (title, subtitle)
        assert subtitle["y"] >= title["y"] + title["height"] - 1, (title, subtitle)


def test_the_photo_grid_shows_whole_file_names(client_admin_a, tenant_a, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    library = factories.make_library(tenant_a)
    (image,) = factories.add_images(
        library, np.zeros((1, 512, 8, 8)), [("", "")], store_features=False
    )
    name = "blue_striped_sailing_boat_on_a_calm_sea_at_dawn.png"
    image.original_name, image.caption = name, ""
    image.save(update_fields=["original_name", "caption"])
    html = client_admin_a.get(f"/libraries/{library.pk}/").content.decode()
    with chromium() as browser, rendered_page(browser, html, width=1100) as page:
        label = page.locator(f"[data-image-id='{image.pk}'] .meta .label").first
        assert label.inner_text() == name
        assert label.get_attribute("title") == name
        # Nothing is cut: the box holds the whole text (it wraps instead of overflowing).
        assert label.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
        assert label.evaluate("e => getComputedStyle(e).textOverflow") != "ellipsis"
