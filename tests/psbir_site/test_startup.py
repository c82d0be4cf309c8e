"""What starting the site sets and says: debug off unless asked for, the start script's last
words (where it runs, the demo logins), announce waiting for the port, quiet faiss."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading

from psbir_site import announce
from tests.processes import REPO


def test_debug_is_off_unless_asked_for():
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_DEBUG"}
    env["DJANGO_SETTINGS_MODULE"] = "psbir_site.settings"
    run = lambda extra: subprocess.run(  # noqa: E731
        [sys.executable, "-c", code],
        env={**env, **extra},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert run({}) == "False"
    assert run({"DJANGO_DEBUG": "1"}) == "True"


def test_start_script_runs_the_demo_with_debug_off_and_says_where_it_runs():
    from retrieval.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERS

    script = (REPO / "scripts" / "start.sh").read_text()
    assert "export DJANGO_DEBUG=${DJANGO_DEBUG:-0}" in script
    assert "DJANGO_DEBUG=1 turns Django's debug pages on" in script
    assert "python -m psbir_site.announce" in script
    for username, _role in DEMO_USERS:
        assert f"{username} / {DEMO_PASSWORD}" in script, "demo logins out of step with seed_demo"


def test_announce_waits_for_the_port_then_says_running():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    # Listen only after a moment: announce must poll, not give up at once.
    timer = threading.Timer(0.6, listener.listen)
    timer.start()
    try:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "psbir_site.announce",
                "127.0.0.1",
                str(port),
                str(os.getpid()),
                "demo logins: demo / x",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        timer.cancel()
        listener.close()
    assert run.returncode == 0, run.stderr
    assert (
        run.stdout.strip()
        == f"PSBIR is running on http://127.0.0.1:{port}/ (demo logins: demo / x)"
    )


def test_announce_gives_up_when_the_server_died():
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert announce.main(["127.0.0.1", str(port), str(dead.pid), "--timeout", "10"]) == 1


def test_faiss_loader_notices_are_quiet(settings):
    assert settings.LOGGING["loggers"]["faiss.loader"]["level"] == "WARNING"
    import retrieval.engine.index  # noqa: F401  (imports faiss)

    assert logging.getLogger("faiss.loader").getEffectiveLevel() >= logging.WARNING
