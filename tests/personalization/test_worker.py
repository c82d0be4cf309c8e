"""End to end with a real django-q2 worker process and a websocket on the ASGI application.

"Train now" over the API queues the job; ``manage.py qcluster`` (a separate process, on the
file SQLite test database) trains the head; the browser's socket (WebsocketCommunicator on
psbir_site.asgi.application, session cookie auth) hears the progress and then
"personal_model_ready" through the events outbox relay (Channels' layer on Redis profiles).
"""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse

from personalization import head_files
from personalization.models import PersonalHead, TrainingJob
from psbir_site.asgi import application
from tests.personalization.conftest import build_world
from tests.processes import worker_process

TRAINING_ENV = {
    "PSBIR_PERSONAL_SAMPLES_PER_BRANCH": "4",
    "PSBIR_PERSONAL_ROUNDS": "4",
    "PSBIR_DEVICE": "cpu",
    # The feedback-volume schedule must not race the request this test makes.
    "PSBIR_FEEDBACK_THRESHOLD": "1000",
    "OMP_NUM_THREADS": "1",
}


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_worker_trains_and_socket_hears_ready(member_a, settings):
    settings.PSBIR_FEEDBACK_THRESHOLD = 1000
    await sync_to_async(build_world)(member_a)
    client = await sync_to_async(_login)(member_a)
    socket = WebsocketCommunicator(
        application,
        "/ws/events/",
        headers=[
            (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
            (b"origin", b"http://localhost"),
        ],
    )
    connected, _ = await socket.connect(timeout=10)
    assert connected
    assert (await socket.receive_json_from(timeout=10))["event"] == "connected"
    await asyncio.sleep(0.3)  # the relay takes its starting cursor

    with worker_process(**TRAINING_ENV) as worker:
        started = time.monotonic()
        response = await sync_to_async(client.post)(reverse("personalization-api:training"))
        assert response.status_code == 202, response.content
        job_id = response.json()["id"]

        states, ready = [], None
        deadline = started + 180
        while ready is None and time.monotonic() < deadline:
            try:
                message = await socket.receive_json_from(timeout=deadline - time.monotonic())
            except TimeoutError:
                break
            if message["event"] == "personal_training":
                states.append((message["state"], message["progress"]))
            elif message["event"] == "personal_model_ready":
                ready = message
        elapsed = time.monotonic() - started
        if ready is None:
            worker.terminate()
            output = worker.communicate(timeout=20)[0]
            pytest.fail(f"no personal_model_ready after {elapsed:.0f} s; worker said:\n{output}")

    assert ready["version"] == 1 and ready["message"] == "Your personalized model is ready"
    assert ready["job_id"] == job_id
    assert states[0][0] == "queued" and ("ready", 100) in states
    assert any(state == "training" for state, _ in states)

    job = await TrainingJob.objects.aget(pk=job_id)
    head = await PersonalHead.objects.aget(user=member_a)
    assert (job.state, head.status, head.is_active) == ("ready", "ready", True)
    assert head_files.absolute_path(head.file_path).is_file()
    print(f"trigger -> ready through a real worker: {elapsed:.1f} s")  # noqa: T201
    await socket.disconnect()
