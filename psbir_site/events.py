"""Publishing events to browsers, from any process.

Group names come from :func:`user_group` and :func:`tenant_admin_group` only: they are built
from server-side ids, never from user input.

With Redis (``REDIS_URL``) events go straight to channels-redis. On the embedded default they
are written to :class:`~psbir_site.models.OutboxEvent` inside the caller's transaction
(``on_commit``), and :func:`relay_outbox_forever`, running in every web process, forwards
them to that process's in-memory channel layer. Latency is one poll interval.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from psbir_site.models import OutboxEvent

logger = logging.getLogger(__name__)

OUTBOX_POLL_SECONDS = 0.5
OUTBOX_RETENTION = timedelta(minutes=10)
CONSUMER_HANDLER = "event.message"


def user_group(user_id: int) -> str:
    return f"user-{int(user_id)}"


def tenant_admin_group(tenant_id: int) -> str:
    return f"tenant-{int(tenant_id)}-admins"


def publish(group: str, event: str, payload: dict[str, Any] | None = None) -> None:
    """Send ``event`` to every websocket in ``group`` once the current transaction commits."""
    message = {"event": event, **(payload or {})}
    transaction.on_commit(lambda: _deliver(group, message))


def _deliver(group: str, message: dict[str, Any]) -> None:
    if settings.PSBIR_EVENTS_VIA_OUTBOX:
        OutboxEvent.objects.create(group=group, payload=message)
        return
    layer = get_channel_layer()
    async_to_sync(layer.group_send)(group, {"type": CONSUMER_HANDLER, "message": message})


def _fetch_after(last_id: int) -> list[tuple[int, str, dict[str, Any]]]:
    rows = OutboxEvent.objects.filter(id__gt=last_id).order_by("id")[:500]
    return [(row.id, row.group, row.payload) for row in rows]


def _latest_id() -> int:
    latest = OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first()
    return latest or 0


def _prune() -> None:
    OutboxEvent.objects.filter(created_at__lt=timezone.now() - OUTBOX_RETENTION).delete()


async def relay_outbox_once(last_id: int) -> int:
    """Forward outbox rows after ``last_id`` to the local channel layer; return the new cursor."""
    layer = get_channel_layer()
    for row_id, group, message in await sync_to_async(_fetch_after)(last_id):
        await layer.group_send(group, {"type": CONSUMER_HANDLER, "message": message})
        last_id = row_id
    return last_id


async def relay_outbox_forever() -> None:
    """Run for the life of a web process; started lazily by the first websocket."""
    last_id = await sync_to_async(_latest_id)()
    polls = 0
    while True:
        try:
            last_id = await relay_outbox_once(last_id)
            polls += 1
            if polls % 1200 == 0:
                await sync_to_async(_prune)()
        except Exception:  # keep relaying after a transient database error
            logger.exception("outbox relay failed; retrying")
        await asyncio.sleep(OUTBOX_POLL_SECONDS)


_relay_tasks: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}


def ensure_relay_running() -> None:
    """Start the relay in the running event loop if it is needed and not yet running there.

    Keyed by loop: a server has one loop for its life, but test runners open a loop per test
    and a task of a closed loop never reports done.
    """
    if not settings.PSBIR_EVENTS_VIA_OUTBOX:
        return
    loop = asyncio.get_running_loop()
    for other in [other for other in _relay_tasks if other.is_closed()]:
        del _relay_tasks[other]
    task = _relay_tasks.get(loop)
    if task is None or task.done():
        _relay_tasks[loop] = loop.create_task(relay_outbox_forever())
