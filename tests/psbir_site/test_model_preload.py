"""The search model loads when the web process starts (off the request path), /healthz says
when search is ready, and the start script's announcement waits for it."""

from __future__ import annotations

import http.server
import json
import os
import threading
import time

import pytest

from psbir_site import announce
from retrieval import engine_runtime


class SlowEngine:
    """Stands in for the engine: building it takes a moment, then it embeds."""

    def __init__(self) -> None:
        self.embedded = 0

    def embed_sketch_strokes(self, payload: dict) -> None:
        assert payload["strokes"], "the warm-up draws something"
        self.embedded += 1


@pytest.fixture
def fresh_runtime(monkeypatch):
    monkeypatch.setattr(engine_runtime, "_engine", None)
    monkeypatch.setattr(
        engine_runtime, "_warm_up", {"started": False, "seconds": None, "error": None}
    )
    monkeypatch.setattr(engine_runtime, "_warmed", threading.Event())
    yield
    engine_runtime.set_engine(None)


def test_warm_up_builds_and_warms_the_engine_in_the_background(fresh_runtime, monkeypatch):
    built = SlowEngine()
    release = threading.Event()

    def build():
        release.wait(5)
        return built

    monkeypatch.setattr(engine_runtime, "build_engine", build)
    engine_runtime.start_warm_up()
    engine_runtime.start_warm_up()  # once per process
    assert engine_runtime.search_state()["search_ready"] is False  # not waited for
    release.set()
    deadline = time.monotonic() + 5
    while not engine_runtime.search_state()["search_ready"] and time.monotonic() < deadline:
        time.sleep(0.02)
    state = engine_runtime.search_state()
    assert state["search_ready"] and state["model_load_seconds"] is not None
    assert built.embedded == 1 and engine_runtime.get_engine() is built


def test_a_model_that_cannot_load_is_reported(fresh_runtime, monkeypatch):
    def broken():
        raise FileNotFoundError("general_head.pt is missing")

    monkeypatch.setattr(engine_runtime, "build_engine", broken)
    engine_runtime.start_warm_up()
    deadline = time.monotonic() + 5
    while engine_runtime.search_state()["model_error"] is None and time.monotonic() < deadline:
        time.sleep(0.02)
    state = engine_runtime.search_state()
    assert not state["search_ready"] and "general_head.pt is missing" in state["model_error"]


def _health_server(states: list[dict]):
    """A local /healthz that answers ``states`` in turn (the last one from then on)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = json.dumps(states.pop(0) if len(states) > 1 else states[0]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_announce_says_when_search_is_ready(capsys):
    loading = {"status": "ok", "search_ready": False, "model_load_seconds": None}
    ready = {"status": "ok", "search_ready": True, "model_load_seconds": 3.2}
    server = _health_server([loading, loading, ready])
    try:
        port = server.server_address[1]
        code = announce.main(["--wait-search", "127.0.0.1", str(port), str(os.getpid()), "x"])
    finally:
        server.shutdown()
    out = capsys.readouterr().out
    assert code == 0
    assert f"PSBIR is running on http://127.0.0.1:{port}/ (x)" in out
    assert "Search is ready (the model loaded in 3.2 s)." in out
    assert out.index("running on") < out.index("Search is ready")


def test_start_script_preloads_the_model_and_waits_for_search():
    from tests.processes import REPO

    script = (REPO / "scripts" / "start.sh").read_text()
    assert "export PSBIR_PRELOAD_MODEL=${PSBIR_PRELOAD_MODEL:-1}" in script
    assert "psbir_site.announce --wait-search" in script
