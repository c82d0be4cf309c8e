"""The websocket event path on the embedded default: publish -> outbox -> relay -> socket."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction

from accounts.models import Tenant, User
from psbir_site import events
from psbir_site.consumers import EventsConsumer
from psbir_site.models import OutboxEvent


def _user(role: str = User.Role.MEMBER, slug: str = "acme") -> User:
    tenant, _ = Tenant.objects.get_or_create(slug=slug, defaults={"name": slug.title()})
    return User.objects.create_user(
        username=f"{slug}-{role}-{User.objects.count()}", password="x", tenant=tenant, role=role
    )


@pytest.mark.django_db(transaction=True)
def test_publish_writes_outbox_only_after_commit(settings):
    settings.PSBIR_EVENTS_VIA_OUTBOX = True
    with transaction.atomic():
        events.publish(events.user_group(7), "hello", {"n": 1})
        assert OutboxEvent.objects.count() == 0
    row = OutboxEvent.objects.get()
    assert row.group == "user-7"
    assert row.payload == {"event": "hello", "n": 1}


@pytest.mark.django_db(transaction=True)
def test_rolled_back_transaction_publishes_nothing(settings):
    settings.PSBIR_EVENTS_VIA_OUTBOX = True
    with pytest.raises(RuntimeError), transaction.atomic():
        events.publish(events.user_group(7), "hello")
        raise RuntimeError("boom")
    assert OutboxEvent.objects.count() == 0


def test_group_names_come_from_ids_only():
    assert events.user_group(12) == "user-12"
    assert events.tenant_admin_group("3") == "tenant-3-admins"
    with pytest.raises(ValueError):
        events.user_group("12; other")


async def _connect(user: User | None) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(EventsConsumer.as_asgi(), "/ws/events/")
    if user is not None:
        communicator.scope["user"] = user
    return communicator


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_socket_receives_own_events_and_not_others(settings):
    settings.PSBIR_EVENTS_VIA_OUTBOX = True
    alice = await sync_to_async(_user)(slug="acme")
    bob = await sync_to_async(_user)(slug="globex")
    socket = await _connect(alice)
    connected, _ = await socket.connect()
    assert connected
    assert await socket.receive_json_from() == {"event": "connected"}

    cursor = await sync_to_async(events._latest_id)()
    await sync_to_async(events.publish)(events.user_group(bob.id), "secret", {"x": 1})
    await sync_to_async(events.publish)(events.user_group(alice.id), "mine", {"x": 2})
    await events.relay_outbox_once(cursor)

    assert await socket.receive_json_from(timeout=2) == {"event": "mine", "x": 2}
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_admin_joins_tenant_admin_group_member_does_not(settings):
    settings.PSBIR_EVENTS_VIA_OUTBOX = True
    admin = await sync_to_async(_user)(role=User.Role.ADMIN)
    member = await sync_to_async(_user)(role=User.Role.MEMBER)
    admin_socket, member_socket = await _connect(admin), await _connect(member)
    for socket in (admin_socket, member_socket):
        assert (await socket.connect())[0]
        await socket.receive_json_from()

    cursor = await sync_to_async(events._latest_id)()
    group = events.tenant_admin_group(admin.tenant_id)
    await sync_to_async(events.publish)(group, "index_progress", {"done": 3})
    await events.relay_outbox_once(cursor)

    assert (await admin_socket.receive_json_from(timeout=2))["done"] == 3
    assert await member_socket.receive_nothing(timeout=0.3)
    await admin_socket.disconnect()
    await member_socket.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_anonymous_socket_is_refused():
    from django.contrib.auth.models import AnonymousUser

    socket = await _connect(AnonymousUser())
    connected, code = await socket.connect()
    assert not connected
    assert code == 4401


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_junk_frames_are_answered_and_the_socket_stays_open(settings):
    settings.PSBIR_EVENTS_VIA_OUTBOX = True
    alice = await sync_to_async(_user)(slug="acme")
    socket = await _connect(alice)
    assert (await socket.connect())[0]
    await socket.receive_json_from()
    junk = [
        {"text_data": "{not json"},
        {"text_data": '{"type": "ping", "x": NaN'},
        {"text_data": "x" * 2_000_000},
        {"bytes_data": b"\x00\xff" * 1000},
        {"text_data": "[1, 2, 3]"},
        {"text_data": '{"type": "subscribe", "group": "tenant-1-admins"}'},
        {"text_data": " "},
    ]
    for frame in junk:
        await socket.send_to(**frame)
        answer = await socket.receive_json_from(timeout=2)
        assert answer["event"] == "error" and answer["detail"], frame
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from(timeout=2) == {"event": "pong"}
    # Still subscribed to its own group, and only to it.
    cursor = await sync_to_async(events._latest_id)()
    await sync_to_async(events.publish)(events.user_group(alice.id), "mine", {"x": 2})
    await events.relay_outbox_once(cursor)
    assert await socket.receive_json_from(timeout=2) == {"event": "mine", "x": 2}
    await socket.disconnect()
