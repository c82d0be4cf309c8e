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


class LeasedJob(models.Model):
    """A background job that one worker at a time holds by a lease it keeps renewing.

    django-q2's Redis broker forgets a task whose worker dies, and its ORM broker re-sends one
    only after ``retry``; the lease lets the scheduler's sweep find a job whose worker stopped
    renewing (see ``psbir_site/job_leases.py``) and lets a second delivery tell a live run
    from a dead one.
    """

    lease_token = models.CharField(max_length=32, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Runs started, the first one included; bounded by PSBIR_JOB_MAX_ATTEMPTS. A job that
    # resumes where it stopped may set it back to 1 when a run makes progress.
    attempts = models.PositiveSmallIntegerField(default=0)
    requeued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
