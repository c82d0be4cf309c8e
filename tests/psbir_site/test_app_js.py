"""static/js/app.js in a real browser (Debian chromium), with a fake WebSocket and clock.

No server: the page is served by Playwright's request routing, so these tests check the
script's own behaviour: socket URL, event dispatch, toasts, reconnect with backoff.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.browser

APP_JS = (Path(settings.BASE_DIR) / "static" / "js" / "app.js").read_text()

FAKE_SOCKET = """
window.__sockets = [];
window.__events = [];
class FakeSocket {
  constructor(url) { this.url = url; this.readyState = 0; this.sent = []; __sockets.push(this); }
  send(data) { this.sent.push(data); }
  close() {}
  open() { this.readyState = 1; this.onopen && this.onopen({}); }
  receive(obj) { this.onmessage && this.onmessage({data: JSON.stringify(obj)}); }
  drop(code) { this.readyState = 3; this.onclose && this.onclose({code: code}); }
}
FakeSocket.OPEN = 1;
window.WebSocket = FakeSocket;
window.addEventListener("psbir:event", (e) => __events.push(["any", e.detail.event]));
window.addEventListener("psbir:index_progress", (e) => __events.push(["named", e.detail.done]));
"""


def _page_html(events: str = "on") -> str:
    return (
        '<!doctype html><html><head><meta name="csrf-token" content="tok-123"></head>'
        f'<body data-events="{events}"><div id="toasts"></div>'
        f"<script>{FAKE_SOCKET}</script><script>{APP_JS}</script></body></html>"
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield browser
        browser.close()


def _open(browser, url: str = "http://psbir.test/", events: str = "on"):
    page = browser.new_page()
    page.clock.install()
    page.route(
        "**/*",
        lambda route: route.fulfill(status=200, content_type="text/html", body=_page_html(events)),
    )
    page.goto(url)
    return page


def test_socket_url_follows_the_page_scheme(browser):
    for url, expected in [
        ("http://psbir.test/", "ws://psbir.test/ws/events/"),
        ("https://psbir.test/search/", "wss://psbir.test/ws/events/"),
    ]:
        page = _open(browser, url)
        assert page.evaluate("__sockets.map(s => s.url)") == [expected]
        page.close()


def test_no_socket_for_pages_without_events(browser):
    page = _open(browser, events="off")
    assert page.evaluate("__sockets.length") == 0
    page.close()


def test_messages_become_window_events(browser):
    page = _open(browser)
    page.evaluate("__sockets[0].open()")
    page.evaluate(f"__sockets[0].receive({json.dumps({'event': 'index_progress', 'done': 3})})")
    page.evaluate("__sockets[0].onmessage({data: 'not json'})")  # ignored, no exception
    assert page.evaluate("__events") == [["any", "index_progress"], ["named", 3]]
    assert page.evaluate("PSBIR.socketState()") == "open"
    page.close()


def test_toasts_for_notify_and_personal_model_ready(browser):
    page = _open(browser)
    page.evaluate("__sockets[0].open()")
    page.evaluate("__sockets[0].receive({event: 'personal_model_ready', version: 2})")
    page.evaluate("__sockets[0].receive({event: 'notify', message: '<b>hi</b>', level: 'error'})")
    texts = page.locator("#toasts .toast .toast-body").all_inner_texts()
    assert texts == ["Your personalized model is ready", "<b>hi</b>"]
    assert page.locator("#toasts b").count() == 0  # payloads are text, never HTML
    page.clock.fast_forward("00:10")
    assert page.locator("#toasts .toast").count() == 0  # toasts go away
    page.close()


def test_reconnects_with_backoff_and_stops_on_4401(browser):
    page = _open(browser)
    page.evaluate("__sockets[0].drop(1006)")
    assert page.evaluate("PSBIR.socketState()") == "closed"
    page.clock.fast_forward(500)
    assert page.evaluate("__sockets.length") == 1  # not before ~1 s
    page.clock.fast_forward(1000)
    assert page.evaluate("__sockets.length") == 2
    page.evaluate("__sockets[1].drop(1006)")
    page.clock.fast_forward(1300)
    assert page.evaluate("__sockets.length") == 2  # second wait is ~2 s
    page.clock.fast_forward(1300)
    assert page.evaluate("__sockets.length") == 3
    page.evaluate("__sockets[2].drop(4401)")
    page.clock.fast_forward("01:00")
    assert page.evaluate("__sockets.length") == 3  # signed out: no retry
    page.close()


def test_heartbeat_and_api_helper_send_csrf(browser):
    page = _open(browser)
    page.evaluate("__sockets[0].open()")
    page.clock.fast_forward(26_000)
    assert page.evaluate("__sockets[0].sent") == ['{"type":"ping"}']
    seen = {}

    def handle(route):
        seen["method"] = route.request.method
        seen["headers"] = route.request.headers
        seen["body"] = route.request.post_data
        route.fulfill(status=201, content_type="application/json", body='{"id": 5}')

    page.route("**/api/things/", handle)
    result = page.evaluate("PSBIR.api('/api/things/', {method: 'POST', json: {a: 1}})")
    assert result == {"id": 5}
    assert seen["method"] == "POST"
    assert seen["headers"]["x-csrftoken"] == "tok-123"
    assert json.loads(seen["body"]) == {"a": 1}
    page.close()
