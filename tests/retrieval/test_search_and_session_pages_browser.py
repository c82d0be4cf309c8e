"""The search and session pages as a browser shows them: CSS that hides, colours under the
pointer, where the redraw link lands, what Search says without a library.

Pages are rendered by Django's test client, then shown in Debian's chromium with the real
static files (Playwright request routing; API calls answer 404), so no server is started.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.browser import chromium
from tests.retrieval.fakes import circle_strokes

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

STATIC = Path(settings.BASE_DIR) / "static"
ORIGIN = "http://psbir.test"
NO_SOCKET = "window.WebSocket = class { constructor() {} send() {} close() {} };"


def _show(pages: dict[str, str], script):
    """Open each rendered page (path -> HTML) in chromium and run ``script(page)`` on it."""

    def handle(route):
        path = route.request.url.removeprefix(ORIGIN).split("?")[0]
        if path in pages:
            return route.fulfill(status=200, content_type="text/html", body=pages[path])
        if path.startswith("/static/") and (STATIC / path.removeprefix("/static/")).is_file():
            return route.fulfill(path=str(STATIC / path.removeprefix("/static/")))
        if "/sketch" in path or "/thumb" in path:  # images: a 1x1 PNG is enough
            return route.fulfill(status=404, body="")
        return route.fulfill(status=404, content_type="application/json", body='{"detail": "x"}')

    results = {}
    with chromium() as browser:
        for path in pages:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.add_init_script(NO_SOCKET)
            page.route("**/*", handle)
            page.goto(ORIGIN + path)
            page.wait_for_load_state("load")
            results[path] = script(page)
            page.close()
    return results


def _rgb(css: str) -> tuple[float, ...]:
    return tuple(float(v) for v in re.findall(r"[\d.]+", css)[:3])


def _contrast(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    def luminance(rgb):
        channels = []
        for c in rgb:
            c /= 255
            channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
        return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_fresh_search_page_hides_new_session_and_pressed_marks_stay_readable(
    client_a, indexed_library
):
    html = client_a.get(reverse("retrieval:search")).content.decode()
    assert re.search(r'id="new-session"[^>]*hidden', html)

    def check(page):
        hidden = page.locator("#new-session").is_visible()
        page.evaluate(
            """() => {
              const b = document.createElement("button");
              b.className = "btn secondary small pz-mark"; b.id = "meant";
              b.setAttribute("aria-pressed", "true"); b.textContent = "✓ Meant";
              document.querySelector("#results").appendChild(b);
            }"""
        )
        style = "e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]"
        page.mouse.move(0, 0)
        resting = page.locator("#meant").evaluate(style)
        page.locator("#meant").hover()
        page.wait_for_timeout(50)
        hovered = page.locator("#meant").evaluate(style)
        return hidden, resting, hovered

    hidden, resting, hovered = _show({"/search/": html}, check)["/search/"]
    assert hidden is False, "New session shows on a fresh page (.btn display beats [hidden])"
    for colour, background in (resting, hovered):
        assert _contrast(_rgb(colour), _rgb(background)) >= 4.5, (colour, background)
    assert hovered == resting, "the pressed style holds under the pointer"


def test_session_page_redraw_link_sits_by_the_sketch_not_over_the_results(
    client_a, api_client_a, indexed_library, fake_engine
):
    data = api_client_a.post(
        "/api/search/", {"strokes": circle_strokes(), "top_k": 6}, format="json"
    ).json()
    path = reverse("retrieval:session-detail", args=[data["session"]])
    html = client_a.get(path).content.decode()

    def boxes(page):
        block = page.locator(f'[data-query-id="{data["id"]}"]')
        return {
            name: block.locator(selector).first.bounding_box()
            for name, selector in (
                ("sketch", ".sketch-thumb"),
                ("redraw", "a[data-redraw]"),
                ("results", ".results-grid"),
            )
        }

    box = _show({path: html}, boxes)[path]
    sketch, redraw, results = box["sketch"], box["redraw"], box["results"]
    assert redraw["x"] + redraw["width"] <= results["x"] + 0.5, "the link runs over the results"
    assert redraw["x"] >= sketch["x"] - 0.5
    assert sketch["y"] + sketch["height"] <= redraw["y"] <= sketch["y"] + sketch["height"] + 40


def test_search_without_any_library_says_there_is_none(client_admin_a):
    html = client_admin_a.get(reverse("retrieval:search")).content.decode()

    def check(page):
        disabled = page.locator("#search-button").is_disabled()
        # Even if something enabled the button, submitting says what is wrong.
        page.evaluate(
            """() => {
              document.querySelector("#search-button").disabled = false;
              const c = document.querySelector("#sketch-canvas"), r = c.getBoundingClientRect();
              return [r.x, r.y, r.width, r.height];
            }"""
        )
        canvas = page.locator("#sketch-canvas").bounding_box()
        page.mouse.move(canvas["x"] + 50, canvas["y"] + 50)
        page.mouse.down()
        page.mouse.move(canvas["x"] + 200, canvas["y"] + 150, steps=8)
        page.mouse.up()
        page.locator("#search-button").click()
        return disabled, page.locator("#search-error").inner_text()

    disabled, error = _show({"/search/": html}, check)["/search/"]
    assert disabled is True
    assert "no image library yet" in error and "create one under Libraries" in error
    assert "Choose at least one library" not in error
