"""The event outbox: how background workers reach browsers without a shared channel layer."""

from django.db import models


class OutboxEvent(models.Model):
    """One event for one channel-layer group, written by any process, relayed by web processes.

    Rows are append-only; the relay in each web process remembers the last id it delivered
    and old rows are pruned after ``events.OUTBOX_RETENTION``.
    """

    group = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.group}: {self.payload.get('event', '?')}"
