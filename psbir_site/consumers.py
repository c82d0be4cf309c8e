"""The one websocket every page opens: it only moves server events to the browser."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from psbir_site import events


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

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The socket is server-to-browser only; anything else gets a clear answer.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"event": "pong"})
            return
        await self.send_json({"event": "error", "detail": "this socket accepts only ping"})

    async def event_message(self, message: dict[str, Any]) -> None:
        await self.send_json(message["message"])
