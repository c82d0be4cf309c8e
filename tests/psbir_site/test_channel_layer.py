"""The websocket stays up while idle on the scale-out channel layer (channels-redis).

redis-py 8 gives every connection a 5 s socket timeout, and channels-redis waits for a
message with BZPOPMIN for 5 s: an idle socket's read then raced its own timeout and the
consumer died with ``redis.exceptions.TimeoutError`` (found by the worker test on Redis).
"""

from __future__ import annotations

import asyncio
import os

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from accounts.models import Tenant, User
from psbir_site import events
from psbir_site.consumers import EventsConsumer
from psbir_site.settings import redis_channel_hosts


def test_the_layer_reads_longer_than_channels_redis_waits():
    from channels_redis.core import RedisChannelLayer

    [host] = redis_channel_hosts("redis://127.0.0.1:6379/0")
    assert host["socket_timeout"] > 2 * RedisChannelLayer.brpop_timeout


@pytest.mark.slow
@pytest.mark.event_path
@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="channels-redis runs on the scale-out profile"
)
async def test_an_idle_socket_still_gets_events_on_redis():
    def make_user() -> User:
        tenant = Tenant.objects.create(slug="idle", name="Idle")
        return User.objects.create_user(username="idle", password="x", tenant=tenant)

    user = await sync_to_async(make_user)()
    socket = WebsocketCommunicator(EventsConsumer.as_asgi(), "/ws/events/")
    socket.scope["user"] = user
    assert (await socket.connect())[0]
    assert await socket.receive_json_from() == {"event": "connected"}
    await asyncio.sleep(16)  # three empty BZPOPMIN rounds
    await get_channel_layer().group_send(
        events.user_group(user.id), {"type": "event.message", "message": {"event": "late"}}
    )
    assert await socket.receive_json_from(timeout=10) == {"event": "late"}
    await socket.disconnect()
