"""static/js/personalization.js in a real browser (Debian chromium), on the real panel markup.

The panel is rendered by Django; Playwright serves it with app.js, a fake WebSocket and a
fake API (request routing), and the test plays the search page's "psbir:results" event.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.test import RequestFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

JS = Path(settings.BASE_DIR) / "static" / "js"
FAKE_SOCKET = """
window.WebSocket = class { constructor() { window.__socket = this; } send() {} close() {} };
window.WebSocket.OPEN = 1;
"""
CARDS = """
<div id="results">
  <figure class="result-card" data-result-id="11" data-image-id="101"></figure>
  <figure class="result-card" data-result-id="12" data-image-id="102"></figure>
</div>
"""


def _fake_api(method: str, path: str, post_data: str | None, active: int | None) -> object:
    """What the personalization API would answer (feedback echoes what was marked)."""
    if path.startswith("/api/personalization/feedback/") and method == "POST":
        sent = json.loads(post_data or "{}")
        if sent.get("none_of_these"):
            return [{"id": 90, "kind": "none", "result": None}]
        return [{"id": 99, "kind": "match", "result": sent["result_ids"][0]}]
    if path.startswith("/api/personalization/feedback/"):
        return []
    if path == "/api/personalization/training/":
        return {"id": 5, "state": "queued", "progress": 0, "message": "Waiting"}
    if path == "/api/personalization/status/":
        return {
            "active_version": active,
            "new_feedback_sketches": 1,
            "has_marks": True,
            "job": None,
        }
    return {}


def _panel(user) -> str:
    request = RequestFactory().get("/search/")
    request.user = user
    return render_to_string("personalization/_search_panel.html", {"user": user}, request=request)


def test_panel_marks_results_sets_w_and_follows_training(member_a, monkeypatch):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    panel = _panel(member_a)
    page_html = (
        '<!doctype html><html><head><meta name="csrf-token" content="tok"></head>'
        f'<body data-events="on"><div id="toasts"></div>{CARDS}{panel}'
        f"<script>{FAKE_SOCKET}</script><script>{(JS / 'app.js').read_text()}</script>"
        f"<script>{(JS / 'personalization.js').read_text()}</script></body></html>"
    )
    calls: list[tuple[str, str, str | None]] = []

    def handle(route):
        request = route.request
        path = request.url.split("psbir.test", 1)[1]
        calls.append((request.method, path, request.post_data))
        if path == "/":
            return route.fulfill(status=200, content_type="text/html", body=page_html)
        body = _fake_api(request.method, path, request.post_data, server["active"])
        return route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    server: dict[str, int | None] = {"active": None}
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright runs an event loop
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.clock.install()
        page.route("**/*", handle)
        page.goto("http://psbir.test/")

        # The stored w (site default 0.75) is what the next search sends.
        assert page.evaluate("PSBIR.searchOptions.personal_weight") == 0.75
        words = page.locator("[data-pz-weight-words]")
        assert words.inner_text().startswith(
            "On searches like ones you gave feedback on, what you taught counts 75% and the "
            "general model 25%."
        )
        assert "unlike any you gave feedback on always get the general" in words.inner_text()
        assert "at once" in page.get_by_test_id("memory-note").inner_text()

        # No mark yet: "Train now" is off, and the reason is beside it.
        assert page.locator("[data-pz-train]").is_disabled()
        assert "Mark the photos you meant" in page.get_by_test_id("train-reason").inner_text()

        # Results arrive: every card gets a mark button; marking one posts feedback.
        page.evaluate(
            "window.dispatchEvent(new CustomEvent('psbir:results', {detail: {query_id: 7,"
            " results: [{id: 11}, {id: 12}], container: document.getElementById('results')}}))"
        )
        buttons = page.locator("[data-result-id] [data-pz-mark]")
        assert buttons.count() == 2
        buttons.nth(0).click()
        page.wait_for_function(
            "document.querySelector('[data-result-id=\"11\"]').classList.contains('pz-marked')"
        )
        posted = [c for c in calls if c[0] == "POST" and "feedback" in c[1]]
        assert json.loads(posted[0][2]) == {"query_id": 7, "result_ids": [11]}
        assert buttons.nth(0).get_attribute("aria-pressed") == "true"
        assert buttons.nth(1).get_attribute("aria-pressed") == "false"
        # With a mark, training can start: the button comes on, the reason goes.
        page.wait_for_function("!document.querySelector('[data-pz-train]').disabled")
        assert page.get_by_test_id("train-reason").is_hidden()

        # "None of these" is a mark on the query, and clears the photo marks shown.
        page.locator("[data-pz-none]").click()
        page.wait_for_function(
            "document.querySelector('[data-pz-none]').getAttribute('aria-pressed') === 'true'"
        )
        assert buttons.nth(0).get_attribute("aria-pressed") == "false"

        # Moving the slider: used at once, stored after a pause.
        page.locator("[data-pz-weight]").fill("0.8")
        assert page.evaluate("PSBIR.searchOptions.personal_weight") == 0.8
        assert "what you taught counts 80%" in words.inner_text()
        page.locator("[data-pz-weight]").fill("0")
        assert words.inner_text().startswith("Only the general model orders your results")
        assert "marks and your personalized model are not used" in words.inner_text()
        page.locator("[data-pz-weight]").fill("1")
        assert "only what you taught (your marks and personalized model)" in words.inner_text()
        page.locator("[data-pz-weight]").fill("0.8")
        page.clock.fast_forward(1000)
        page.wait_for_function("1")
        patches = [c for c in calls if c[0] == "PATCH"]
        assert patches and json.loads(patches[-1][2]) == {"personal_weight": 0.8}

        # Train now, then the worker's progress over the socket.
        page.locator("[data-pz-train]").click()
        page.wait_for_function("document.querySelector('[data-pz-state]').textContent === 'Queued'")
        page.evaluate(
            "__socket.onmessage({data: JSON.stringify({event: 'personal_training', job_id: 5,"
            " state: 'training', progress: 45, message: 'Round 9 of 20'})})"
        )
        assert page.locator("[data-pz-state]").inner_text() == "Training"
        assert page.locator("[data-pz-progress]").get_attribute("value") == "45"
        assert page.locator("[data-pz-message]").inner_text() == "Round 9 of 20"
        server["active"] = 3  # the status the page refreshes on the event says so too
        status_calls = sum(1 for c in calls if c[1] == "/api/personalization/status/")
        page.evaluate(
            "__socket.onmessage({data: JSON.stringify({event: 'personal_model_ready',"
            " version: 3, message: 'Your personalized model is ready'})})"
        )
        assert page.locator("[data-pz-active]").inner_text() == "your model v3"
        for _ in range(200):  # the refresh the event triggers has been answered
            if sum(1 for c in calls if c[1] == "/api/personalization/status/") > status_calls:
                break
            page.wait_for_timeout(50)
        page.wait_for_function(
            "document.querySelector('[data-pz-active]').textContent === 'your model v3'"
        )
        assert "Your personalized model is ready" in page.locator("#toasts").inner_text()
        browser.close()


def test_session_page_marks_each_stored_query(member_a, client, monkeypatch):
    """The real session page (Django-rendered, with its static scripts): every stored query
    gets "I meant this" on its results and a "None of these" of its own."""
    from retrieval.models import SketchQuery
    from tests.personalization import factories

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    library, images = factories.synthetic_library(
        member_a.tenant, factories.SyntheticLibrary(parents=1, subs=1, per_sub=3, seed=1)
    )
    first, first_results = factories.make_query(member_a, [library], None, images[:3])
    second, second_results = factories.make_query(member_a, [library], None, images[::-1])
    SketchQuery.objects.filter(pk=second.pk).update(session=first.session)
    client.force_login(member_a)
    page_html = client.get(f"/sessions/{first.session_id}/").content.decode()
    assert "data-session-marks" in page_html

    calls: list[tuple[str, str, str | None]] = []
    static_root = Path(settings.BASE_DIR) / "static"

    def handle(route):
        request = route.request
        path = request.url.split("psbir.test", 1)[1]
        calls.append((request.method, path, request.post_data))
        if path == "/":
            return route.fulfill(status=200, content_type="text/html", body=page_html)
        if path.startswith("/static/"):
            file = static_root / path.removeprefix("/static/").split("?")[0]
            if file.is_file():
                kind = "text/css" if file.suffix == ".css" else "application/javascript"
                return route.fulfill(status=200, content_type=kind, body=file.read_text())
            return route.fulfill(status=404, body="")
        if not path.startswith("/api/"):
            return route.fulfill(status=404, body="")
        body = _fake_api(request.method, path, request.post_data, None)
        return route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright runs an event loop
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.add_init_script(FAKE_SOCKET)
        page.route("**/*", handle)
        page.goto("http://psbir.test/")
        page.wait_for_function("document.querySelectorAll('[data-pz-mark]').length === 6")
        nones = page.locator("[data-pz-block-none]")
        assert nones.count() == 2

        second_block = page.locator(f'[data-query-id="{second.pk}"]')
        target = second_results[1].pk
        second_block.locator(f'[data-result-id="{target}"] [data-pz-mark]').click()
        page.wait_for_function(
            f'document.querySelector(\'[data-query-id="{second.pk}"] '
            f"[data-result-id=\"{target}\"]').classList.contains('pz-marked')"
        )
        posted = [json.loads(c[2]) for c in calls if c[0] == "POST" and "feedback" in c[1]]
        assert posted == [{"query_id": second.pk, "result_ids": [target]}]
        # The first query's cards are untouched.
        assert page.locator(f'[data-query-id="{first.pk}"] .pz-marked').count() == 0

        page.locator(f'[data-query-id="{first.pk}"] [data-pz-block-none]').click()
        page.wait_for_function(
            f"document.querySelector('[data-query-id=\"{first.pk}\"] [data-pz-block-none]')"
            ".getAttribute('aria-pressed') === 'true'"
        )
        posted = [json.loads(c[2]) for c in calls if c[0] == "POST" and "feedback" in c[1]]
        assert posted[-1] == {"query_id": first.pk, "none_of_these": True}
        assert second_block.locator("[data-pz-block-none]").get_attribute("aria-pressed") == (
            "false"
        )
        browser.close()
