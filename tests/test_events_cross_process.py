"""An event published by another process (as the worker does) reaches this process's socket."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from accounts.models import Tenant, User
from psbir_site.consumers import EventsConsumer
from tests.processes import run_manage

PUBLISH = (
    "from django.db import transaction; from psbir_site import events; "
    "transaction.atomic()(lambda: events.publish(events.user_group({uid}), 'ping_from_worker', "
    "{{'n': 42}}))()"
)


def _make_user() -> User:
    tenant = Tenant.objects.create(name="Acme", slug="acme-xp")
    return User.objects.create_user(username="xp", password="x", tenant=tenant)


@pytest.mark.event_path
@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_event_from_another_process_reaches_socket():
    user = await sync_to_async(_make_user)()
    socket = WebsocketCommunicator(EventsConsumer.as_asgi(), "/ws/events/")
    socket.scope["user"] = user
    assert (await socket.connect())[0]
    assert (await socket.receive_json_from())["event"] == "connected"
    await asyncio.sleep(0.2)  # let the relay (embedded profile) take its starting cursor

    result = await sync_to_async(run_manage)("shell", "-c", PUBLISH.format(uid=user.id))
    assert result.returncode == 0, result.stderr

    # Embedded profile: the relay polls the outbox; Redis profile: channels-redis delivers.
    message = await socket.receive_json_from(timeout=10)
    assert message == {"event": "ping_from_worker", "n": 42}
    assert settings.PSBIR_EVENTS_VIA_OUTBOX == (not settings.REDIS_URL)
    await socket.disconnect()
