"""The one websocket every page opens: it only moves server events to the browser."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from psbir_site import events

MAX_CLIENT_FRAME = 1024  # characters; a ping is 15
ONLY_PING = 'this socket accepts only {"type": "ping"}'


class EventsConsumer(AsyncJsonWebsocketConsumer):
    """Joins the caller's own groups (chosen from the session user, never from the URL)."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or user.tenant_id is None:
            await self.close(code=4401)
            return
        self.groups_joined = [events.user_group(user.id)]
        if user.is_tenant_admin:
            self.groups_joined.append(events.tenant_admin_group(user.tenant_id))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        events.ensure_relay_running()
        await self.accept()
        await self.send_json({"event": "connected"})

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # The socket is server-to-browser only: a client frame is answered, never trusted.
        # Binary, oversized or malformed frames get an error event instead of an exception
        # that would close the socket (and log a traceback per junk frame).
        if text_data is None or len(text_data) > MAX_CLIENT_FRAME:
            await self.send_json({"event": "error", "detail": ONLY_PING})
            return
        try:
            content = await self.decode_json(text_data)
        except ValueError:
            await self.send_json({"event": "error", "detail": "frames must be JSON"})
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"event": "pong"})
            return
        await self.send_json({"event": "error", "detail": ONLY_PING})

    async def event_message(self, message: dict[str, Any]) -> None:
        await self.send_json(message["message"])
