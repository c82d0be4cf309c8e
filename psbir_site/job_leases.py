"""Leases on background jobs: which worker runs a job, and when the job needs another worker.

A worker *takes* a job inside the transaction that claims it (a fresh token, the heartbeat,
one more attempt) and *beats* at every progress save: an update that only matches while the
token is still its own. A job whose heartbeat is older than ``PSBIR_JOB_LEASE_SECONDS`` has
lost its worker (SIGKILL, OOM, the task timeout, a lost machine); the sweep puts it back on
the queue, the next delivery takes it over, and the old worker, if it was only slow, finds
its token gone at its next beat and stops without writing anything more.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

logger = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Another worker took the job over: this run must stop and write nothing more."""


def lease_seconds() -> int:
    return max(1, int(settings.PSBIR_JOB_LEASE_SECONDS))


def max_attempts() -> int:
    return max(1, int(settings.PSBIR_JOB_MAX_ATTEMPTS))


def is_held(job: Any, now: datetime | None = None) -> bool:
    """Whether a live worker is renewing the job's lease."""
    if job.heartbeat_at is None:
        return False
    return (now or timezone.now()) - job.heartbeat_at < timedelta(seconds=lease_seconds())


def exhausted(job: Any) -> bool:
    return job.attempts >= max_attempts()


def take(job: Any) -> list[str]:
    """Give the (row-locked) job a new lease; returns the fields the caller must save."""
    job.lease_token = secrets.token_hex(16)
    job.heartbeat_at = timezone.now()
    job.attempts += 1
    return ["lease_token", "heartbeat_at", "attempts"]


def beat(job: Any, **fields: Any) -> None:
    """Renew the lease and save ``fields`` in one update; :class:`LeaseLost` if taken over."""
    now = timezone.now()
    model: type[models.Model] = type(job)
    updated = model._base_manager.filter(pk=job.pk, lease_token=job.lease_token).update(
        heartbeat_at=now, **fields
    )
    if not updated:
        raise LeaseLost(f"{model.__name__} {job.pk} is run by another worker now")
    job.heartbeat_at = now


def still_held(job: Any) -> bool:
    """Lock the job's row and say whether this run's token still holds it (in a transaction)."""
    model: type[models.Model] = type(job)
    return (
        model._base_manager.select_for_update()
        .filter(pk=job.pk, lease_token=job.lease_token)
        .exists()
    )


def abandoned(now: datetime) -> Q:
    """Running jobs whose worker stopped renewing, not put back on the queue within a lease."""
    cutoff = now - timedelta(seconds=lease_seconds())
    return (Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=cutoff)) & (
        Q(requeued_at__isnull=True) | Q(requeued_at__lt=cutoff)
    )


def waiting_too_long(now: datetime) -> Q:
    """Queued jobs no worker claimed for ``PSBIR_JOB_REQUEUE_QUEUED_SECONDS``.

    A queued task can be lost too (a worker process holds a few it has not started; SIGKILL
    loses them). A queue may also simply be long, so this waits much longer than a lease,
    and a duplicate it sends is harmless: the first delivery takes the job, the rest find
    it taken or finished.
    """
    cutoff = now - timedelta(seconds=int(settings.PSBIR_JOB_REQUEUE_QUEUED_SECONDS))
    return Q(created_at__lt=cutoff) & (Q(requeued_at__isnull=True) | Q(requeued_at__lt=cutoff))


def for_each_locked(model: type[models.Model], rule: Q, action: Callable[[Any], None]) -> list[int]:
    """Run ``action`` on every job matching ``rule``, each in its own transaction holding the
    job's row lock and checked against ``rule`` again; returns the ids acted on.

    The schedules' sweeps span every tenant; each job's task re-reads its job by tenant.
    """
    acted = []
    for pk in list(model._base_manager.filter(rule).values_list("pk", flat=True)):
        with transaction.atomic():
            job = model._base_manager.select_for_update().filter(rule, pk=pk).first()
            if job is None:
                continue  # taken, finished or renewed since the first read
            action(job)
            acted.append(job.pk)
    return acted


def requeue_abandoned(
    model: type[models.Model],
    *,
    running: Q,
    queued: Q,
    now: datetime,
    enqueue: Callable[[Any], None],
) -> list[int]:
    """Send again the ``running`` jobs whose lease ran out and the ``queued`` ones no worker
    took for long; ``enqueue(job)`` queues a job's task (after the commit). Returns their ids.
    Whether a job resumes or gives up is decided when a worker takes it."""

    def requeue(job: Any) -> None:
        job.requeued_at = now
        job.save(update_fields=["requeued_at"])
        enqueue(job)
        logger.warning("%s %s had no live worker; queued again", model.__name__, job.pk)

    due = running & abandoned(now) | queued & waiting_too_long(now)
    return for_each_locked(model, due, requeue)
