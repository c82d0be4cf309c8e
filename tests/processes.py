"""Running real processes (django-q2 worker, daphne, management commands) on the test database.

Use with ``@pytest.mark.django_db(transaction=True)`` so rows are committed and visible to the
child. The child gets the same settings module with ``DATABASE_URL`` (and ``REDIS_URL`` when
the suite runs on the scale-out profile) pointing at the test database.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

REPO = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    if db["ENGINE"] == "django.db.backends.postgresql":
        host = db.get("HOST") or "127.0.0.1"
        port = db.get("PORT") or 5432
        return f"postgres://{db['USER']}:{db['PASSWORD']}@{host}:{port}/{db['NAME']}"
    raise NotImplementedError(f"no child-process URL for {db['ENGINE']}")


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="psbir_site.settings",
        DATABASE_URL=test_database_url(),
        PSBIR_DATA_DIR=str(settings.DATA_DIR),
        PSBIR_MODEL_DIR=str(settings.PSBIR_MODEL_DIR),
        PSBIR_INDEX_DIR=str(settings.PSBIR_INDEX_DIR),
        PSBIR_FEATURE_DIR=str(settings.PSBIR_FEATURE_DIR),
        PSBIR_PERSONAL_HEAD_DIR=str(settings.PSBIR_PERSONAL_HEAD_DIR),
        PSBIR_MEDIA_ROOT=str(settings.MEDIA_ROOT),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def run_manage(*args: str, timeout: float = 120, **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "manage.py"), *args],
        cwd=REPO,
        env=child_env(**extra_env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def worker_process(**extra_env: str) -> Iterator[subprocess.Popen]:
    """A real ``manage.py qcluster`` for the duration of the block; stopped (SIGTERM) after."""
    process = subprocess.Popen(
        [sys.executable, str(REPO / "manage.py"), "qcluster"],
        cwd=REPO,
        env=child_env(**extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def responds(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def start_daphne(**extra_env: str) -> tuple[subprocess.Popen, int]:
    """daphne serving the project on a free port, once /healthz answers; stop with
    :func:`stop_process`."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
        + ["psbir_site.asgi:application"],
        cwd=REPO,
        env=child_env(PSBIR_DEVICE="cpu", OMP_NUM_THREADS="1", **extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if not wait_until(
        lambda: responds(f"http://127.0.0.1:{port}/healthz"), timeout=60, interval=0.3
    ):
        process.terminate()
        raise AssertionError(f"daphne did not start:\n{process.communicate(timeout=20)[0]}")
    return process, port


def stop_process(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@contextmanager
def daphne_server(**extra_env: str) -> Iterator[str]:
    """A served site for the block: yields its base URL (browser tests)."""
    process, port = start_daphne(DJANGO_ALLOWED_HOSTS="127.0.0.1", **extra_env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)


class GroupListener:
    """Collects what other processes publish to one event group, on either profile.

    Embedded default: the worker writes to the outbox table, read back here. Scale-out
    profile: the worker sends through channels-redis, so this joins the group on the layer.
    Create it before starting the publishing process.
    """

    def __init__(self, group: str) -> None:
        self.group = group
        self.via_redis = bool(settings.REDIS_URL)
        if self.via_redis:
            from asgiref.sync import async_to_sync
            from channels.layers import get_channel_layer

            self.layer = get_channel_layer()
            self.channel = async_to_sync(self.layer.new_channel)()
            async_to_sync(self.layer.group_add)(group, self.channel)

    def messages(self) -> list[dict]:
        if not self.via_redis:
            from psbir_site.models import OutboxEvent

            return [e.payload for e in OutboxEvent.objects.filter(group=self.group)]
        import asyncio

        from asgiref.sync import async_to_sync

        async def drain() -> list[dict]:
            received = []
            while True:
                try:
                    message = await asyncio.wait_for(self.layer.receive(self.channel), 1.0)
                except TimeoutError:
                    return received
                received.append(message["message"])

        return async_to_sync(drain)()


def wait_until(predicate, *, timeout: float = 60, interval: float = 0.25) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
