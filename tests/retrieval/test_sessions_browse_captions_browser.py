"""Sessions, browsing and captions as a browser shows them: sessions a list tells apart and a
rename form, a library members can browse, captions and alt text that describe a photo,
and the note when even the best match of a drawing is far.

Debian's chromium runs the pages with their real static files; every other request of the
page (links, forms, the API, thumbnails) is answered in-process by Django's test client,
logged in as the member, on the test database (Playwright request routing). The fake engine
stands in for the network (tests/retrieval/fakes.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

from retrieval.engine import far_match
from retrieval.engine.far_match import FarMatchRule
from retrieval.models import SearchSession
from tests.browser import chromium
from tests.retrieval.labelled import DRAWINGS, labelled_shapes
from tests.searching import post_search

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

STATIC = Path(settings.BASE_DIR) / "static"
ORIGIN = "http://psbir.test"
NO_SOCKET = "window.WebSocket = class { constructor() {} send() {} close() {} };"


@pytest.fixture(autouse=True)
def db_connection(monkeypatch):
    """This test's database connection, taken before Playwright starts its event loop.

    Inside that loop (the whole ``with chromium()`` block, route handlers included) Django
    refuses database calls and keeps connections per async context: a new connection would
    not see the test's open transaction. The handlers get this one; the test waits for the
    page meanwhile, so it has one caller at a time.
    """
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    return connections["default"]


def _served_by(client, db_connection):
    """A Playwright route handler answering the page's requests with ``client``."""

    def handle(route):
        connections["default"] = db_connection
        request = route.request
        if not request.url.startswith(ORIGIN):
            return route.abort()
        path = request.url.removeprefix(ORIGIN)
        if path.startswith("/static/"):
            file = STATIC / path.split("?")[0].removeprefix("/static/")
            return route.fulfill(path=str(file)) if file.is_file() else route.fulfill(status=404)
        response = client.generic(
            request.method,
            path,
            data=request.post_data_buffer or b"",
            content_type=request.headers.get("content-type", ""),
        )
        # Redirects are followed here: Chromium does not route the request that a fulfilled
        # redirect leads to. (So after a form's POST the page keeps the form's URL.)
        while response.status_code in (301, 302, 303) and response.has_header("Location"):
            response = client.generic("GET", response["Location"].removeprefix(ORIGIN))
        body = b"".join(response.streaming_content) if response.streaming else response.content
        headers = {"content-type": response.get("Content-Type", "text/html")}
        return route.fulfill(status=response.status_code, headers=headers, body=body)

    return handle


def _open(browser, client, path: str, db_connection):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(15_000)
    page.add_init_script(NO_SOCKET)
    page.route("**/*", _served_by(client, db_connection))
    page.goto(ORIGIN + path)
    return page


def _search(api_client, drawing: str, **extra) -> dict:
    return post_search(api_client, strokes=DRAWINGS[drawing], top_k=10, **extra)


@pytest.fixture
def shapes(make_library, tenant_a, fake_engine):
    library = labelled_shapes(make_library(tenant_a, name="Shapes"))
    # Photos named as files come: underscores, numbers; captions only on the crosses.
    for image in library.images.all():
        image.original_name = image.original_name.replace("-", "_scan_00")
        if image.category == "cross":
            image.caption = "Saint Andrew's cross"
        image.save()
    return library


# --- sessions a list can tell apart, and renaming one -------------------------------------------


def test_the_sessions_list_tells_sessions_apart(db_connection, client_a, api_client_a, shapes):
    for drawing, more in (("cross", 1), ("bars", 0), ("circle", 2)):
        data = _search(api_client_a, drawing, new_session=True)
        for _ in range(more):
            _search(api_client_a, "circle", session=data["session"])
    with chromium() as browser:
        page = _open(browser, client_a, "/sessions/", db_connection)
        titles = page.locator(".session-item strong").all_inner_texts()
    assert len(titles) == 3 and len(set(titles)) == 3, titles
    by_subject = {re.search(r"probably an? (\w+)", t).group(1): t for t in titles}
    assert by_subject["cross"].endswith(" · 2 searches")
    assert by_subject["bars"].endswith(" · 1 search")
    assert by_subject["circle"].endswith(" · 3 searches")
    for title in titles:  # the time of day, not only the day
        assert re.search(r"\d{4}, (\d{1,2}(:\d\d)? [ap]\.m\.|noon|midnight) · ", title), title


def test_a_member_renames_a_session_on_its_page(db_connection, client_a, api_client_a, shapes):
    data = _search(api_client_a, "cross", new_session=True)
    with chromium() as browser:
        page = _open(browser, client_a, f"/sessions/{data['session']}/", db_connection)
        page.fill("#session-title", "Crosses for the poster")
        with page.expect_navigation():
            page.get_by_role("button", name="Rename").click()
        heading = page.locator("h1").inner_text()
        flash = page.locator(".flash").inner_text()
        page.goto(ORIGIN + "/sessions/")
        listed = page.locator(".session-item strong").all_inner_texts()
    assert heading == "Crosses for the poster"
    assert "renamed" in flash
    assert listed == ["Crosses for the poster"]
    assert SearchSession.objects.get(pk=data["session"]).title == "Crosses for the poster"


# --- browsing a library; the far-match note ------------------------------------------------------


def test_a_member_browses_a_library_by_category(db_connection, client_a, shapes):
    with chromium() as browser:
        page = _open(browser, client_a, "/search/", db_connection)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Browse").click()
        page.get_by_role("link", name="Shapes").click()
        page.wait_for_selector("[data-categories]")
        chips = page.locator("[data-categories] a").all_inner_texts()
        tiles_all = page.locator(".image-tile").count()
        page.locator('[data-categories] a[data-category="cross"]').click()
        page.wait_for_url(re.compile(r"category=cross"))
        heading = page.locator("section.card h2").inner_text()
        alts = [
            page.locator(".image-tile img").nth(i).get_attribute("alt")
            for i in range(page.locator(".image-tile img").count())
        ]
        labels = page.locator(".image-tile .meta .label").all_inner_texts()
        page.wait_for_function(
            "[...document.querySelectorAll('.image-tile img')]"
            ".every(i => i.complete && i.naturalWidth > 0)"
        )
    assert [c.split() for c in chips] == [
        ["All", "25"],
        ["bars", "5"],
        ["circle", "5"],
        ["cross", "5"],
        ["square", "5"],
        ["triangle", "5"],
    ]
    assert tiles_all == 25 and heading == "cross"
    assert alts == ["Saint Andrew's cross, category cross"] * 5
    assert "Saint Andrew's cross" in labels


def test_a_drawing_of_what_the_library_lacks_shows_the_far_note(
    db_connection, client_a, make_library, tenant_a, fake_engine, monkeypatch
):
    labelled_shapes(
        make_library(tenant_a, name="No crosses"), ("circle", "square", "triangle", "bars")
    )
    # The fake engine's distances (test_far_match.py): a cross ~0.28 from this library.
    monkeypatch.setattr(
        far_match, "rule_for", lambda version: FarMatchRule(head=version, threshold=0.2)
    )
    with chromium() as browser:
        page = _open(browser, client_a, "/search/", db_connection)
        canvas = page.locator("#sketch-canvas")
        box = canvas.bounding_box()
        for (x0, y0), (x1, y1) in (((0.2, 0.2), (0.8, 0.8)), ((0.2, 0.8), (0.8, 0.2))):
            page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y0 * box["height"])
            page.mouse.down()
            page.mouse.move(box["x"] + x1 * box["width"], box["y"] + y1 * box["height"], steps=12)
            page.mouse.up()
        page.click("[data-testid=search-button]")
        page.wait_for_selector("#results .result-card")
        warnings = page.locator("#search-warnings")
        visible = warnings.is_visible()
        text = warnings.inner_text()
        cards = page.locator("#results .result-card").count()
    assert visible and "Even the closest photo is far from your drawing" in text
    assert cards > 0  # the nearest photos are still shown, with the note


# --- captions and alt text -------------------------------------------------------------------


def test_session_page_captions_and_alt_texts_describe_the_photos(
    db_connection, client_a, api_client_a, shapes
):
    data = _search(api_client_a, "cross", new_session=True)
    with chromium() as browser:
        page = _open(browser, client_a, f"/sessions/{data['session']}/", db_connection)
        cards = page.locator(".result-card")
        seen = [
            (
                cards.nth(i).locator("img").get_attribute("alt"),
                cards.nth(i).locator(".name").inner_text(),
            )
            for i in range(cards.count())
        ]
    assert len(seen) == 10
    for alt, name in seen:
        assert "_scan_" not in alt and ".png" not in alt, alt
        assert "_scan_" not in name and ".png" not in name, name
        assert re.fullmatch(r".+, category (bars|circle|cross|square|triangle)", alt), alt
    assert ("Saint Andrew's cross, category cross", "Saint Andrew's cross") in seen
    # An unlabelled caption is the file name cleaned: "bars_scan_003.png" reads "Bars scan".
    assert any(name in {"Bars scan", "Square scan", "Circle scan"} for _, name in seen)
