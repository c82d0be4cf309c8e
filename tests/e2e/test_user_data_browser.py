""" "Your data" in a browser: the user menu, the zip download, the confirmation and deletion.

daphne serves the app from a subprocess on the test database; Debian's chromium is driven
through Playwright. The screenshot of the confirmation page is kept in
``test-artifacts/your-data.png`` (the page: ``your-data-page.png``).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from django.conf import global_settings
from django.core.files.base import ContentFile

from accounts.models import Tenant, User
from personalization.models import Feedback
from retrieval import photos
from retrieval.models import SearchSession
from tests.browser import chromium, log_in
from tests.personalization import factories
from tests.processes import REPO, daphne_server

ARTIFACTS = REPO / "test-artifacts"
PASSWORD = "my-own-data-2026"


@pytest.fixture
def owner(settings: Any) -> User:
    """A member with one titled session: a query with its sketch PNG, results and a mark."""
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # the server's hashers
    tenant = Tenant.objects.create(name="Data Co", slug="data-co")
    user = User.objects.create_user(username="owner", password=PASSWORD, tenant=tenant)
    library = factories.make_library(tenant)
    images = factories.add_images(
        library, np.zeros((3, 512, 8, 8)), [("c", "s")] * 3, store_features=False
    )
    query, results = factories.make_query(user, [library], None, images)
    query.session.title = "Teapots in the browser"
    query.session.save(update_fields=["title"])
    sketch = np.full((256, 256), 255, dtype=np.uint8)
    sketch[60:200, 128] = 0
    query.sketch_image.save("browser-sketch.png", ContentFile(photos.png_bytes(sketch)))
    factories.mark(user, results[0])
    return user


@pytest.fixture
def server(owner: User) -> Iterator[str]:
    with daphne_server() as base:
        yield base


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_member_downloads_then_deletes_their_data(server: str, owner: User, tmp_path) -> None:

    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900}, accept_downloads=True)
        page.set_default_timeout(30_000)
        log_in(page, server, owner.username, PASSWORD)

        page.click("details.usermenu summary")
        page.click("[data-testid=menu-your-data]")
        page.wait_for_url(f"{server}/accounts/data/")
        counts = page.locator("[data-testid=data-counts]").inner_text()
        assert "1 search session" in counts and "1 feedback mark" in counts
        page.screenshot(path=str(ARTIFACTS / "your-data-page.png"), full_page=True)

        with page.expect_download() as download_info:
            page.click("[data-testid=data-download]")
        target = tmp_path / "export.zip"
        download_info.value.save_as(target)
        assert download_info.value.suggested_filename.startswith("psbir-data-owner-")
        with zipfile.ZipFile(target) as zf:
            manifest = json.loads(zf.read("manifest.json"))
            assert manifest["counts"]["sketches"] == 1
            png = next(n for n in zf.namelist() if n.endswith(".png"))
            assert zf.read(png).startswith(b"\x89PNG")

        page.click("[data-testid=data-delete]")
        page.wait_for_url(f"{server}/accounts/data/delete/")
        assert "Teapots in the browser" in page.locator("#data-delete-confirm").inner_text()
        page.screenshot(path=str(ARTIFACTS / "your-data.png"), full_page=True)
        page.click("[data-testid=data-delete-confirm]")
        page.wait_for_url(f"{server}/accounts/data/")
        assert "Deleted all your data" in page.inner_text("body")
        page.locator("[data-testid=data-empty]").wait_for()
    assert not SearchSession.objects.filter(user=owner).exists()
    assert not Feedback.objects.filter(user=owner).exists()
