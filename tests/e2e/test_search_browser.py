"""The whole product in a browser: log in, draw on the canvas, search, see the result grid.

daphne serves the ASGI app (HTTP + websockets) from a subprocess on the test database, the
library is indexed with the real engine (shipped head), and Debian's chromium is driven
through Playwright. The screenshot is kept in ``test-artifacts/search.png``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import global_settings

from accounts.models import Tenant, User
from retrieval import engine_runtime
from retrieval.models import LibraryImage
from retrieval.services import images as image_services
from retrieval.services import indexing
from retrieval.services.libraries import library_create
from tests.browser import chromium, draw_circle, log_in
from tests.processes import REPO, daphne_server
from tests.retrieval.fakes import SHAPES, shape_png

ARTIFACTS = REPO / "test-artifacts"
PASSWORD = "draw-a-circle-2026"


@pytest.fixture
def private_dirs(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PSBIR_INDEX_DIR = tmp_path / "indexes"
    settings.PSBIR_FEATURE_DIR = tmp_path / "features"
    return tmp_path


@pytest.fixture
def demo_member(private_dirs, settings) -> User:
    """A member whose organisation has a small library indexed by the real engine."""
    # The server process verifies passwords with the default hashers, not the tests' MD5.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    tenant = Tenant.objects.create(name="Browser Co", slug="browser-co")
    user = User.objects.create_user(username="sketcher", password=PASSWORD, tenant=tenant)
    library = library_create(tenant=tenant, name="Shapes")
    items = [
        image_services.UploadItem(name=f"{shape}.png", data=shape_png(shape, size=160))
        for shape in SHAPES
    ]
    outcome = image_services.images_import(library=library, items=items, enqueue=False)
    engine_runtime.set_engine(None)  # the real engine, as the server will build it
    try:
        indexing.index_job_run(job_id=outcome.job.pk, tenant_id=tenant.pk)
    finally:
        engine_runtime.set_engine(None)
    assert LibraryImage.objects.filter(library=library, status="indexed").count() == len(SHAPES)
    return user


@pytest.fixture
def server(demo_member):
    with daphne_server() as base:
        yield base


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_member_draws_a_circle_and_sees_results(server, demo_member):

    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(30_000)
        log_in(page, server, demo_member.username, PASSWORD, then="/search/")

        canvas = page.locator("#sketch-canvas")
        canvas.wait_for()
        # Record what the page announces to the personalization panel.
        page.evaluate(
            "window.__results = []; window.addEventListener('psbir:results',"
            " e => window.__results.push({query_id: e.detail.query_id,"
            " n: e.detail.results.length}))"
        )
        draw_circle(page)
        assert page.evaluate("window.PSBIR.sketch.strokes.length") == 1
        page.click("[data-action=undo]")
        assert page.evaluate("window.PSBIR.sketch.isEmpty()")
        page.click("[data-action=redo]")
        assert not page.evaluate("window.PSBIR.sketch.isEmpty()")

        page.fill("#top-k", "4")
        page.click("[data-testid=search-button]")
        page.wait_for_selector("#results .result-card")
        cards = page.locator("#results .result-card")
        assert cards.count() == 4
        ids = [cards.nth(i).get_attribute("data-result-id") for i in range(4)]
        assert all(i and i.isdigit() for i in ids)
        assert all(cards.nth(i).get_attribute("data-image-id") for i in range(4))
        distances = [float(cards.nth(i).locator(".distance").inner_text()) for i in range(4)]
        assert distances == sorted(distances)
        # Thumbnails load through the tenant-checked media view.
        page.wait_for_function(
            "[...document.querySelectorAll('#results img')]"
            ".every(i => i.complete && i.naturalWidth > 0)"
        )
        announced = page.evaluate("window.__results")
        assert len(announced) == 1 and announced[0]["n"] == 4
        assert "session=" in page.url
        page.screenshot(path=str(ARTIFACTS / "search.png"), full_page=True)
    assert Path(ARTIFACTS / "search.png").stat().st_size > 10_000
