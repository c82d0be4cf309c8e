"""Training jobs hold a lease: a dead worker's job is queued again and trained anew into the
same head, a worker presumed dead publishes nothing, and a job that keeps dying fails."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from personalization import selectors, training_data
from personalization.models import PersonalHead, TrainingJob
from personalization.services import training

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_training")]


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:
    calls: list[int] = []
    monkeypatch.setattr(training, "_enqueue", lambda job_id, tenant_id: calls.append(job_id))
    return calls


@pytest.fixture
def queued(world, run_on_commit, enqueued) -> TrainingJob:
    with run_on_commit():
        job, _ = training.training_request(user=world.user)
    enqueued.clear()
    return job


def _expired(settings):
    return timezone.now() - timedelta(seconds=settings.PSBIR_JOB_LEASE_SECONDS + 1)


def _died_mid_training(job: TrainingJob, *, heartbeat, attempts: int = 1) -> PersonalHead:
    """The state a worker leaves when it is killed while training."""
    head = PersonalHead.objects.create(
        tenant_id=job.tenant_id,
        user=job.user,
        version=selectors.next_head_version(user=job.user),
        status=PersonalHead.Status.TRAINING,
        loss_curve=[9.0, 8.0],
    )
    TrainingJob.objects.filter(pk=job.pk).update(
        state=TrainingJob.State.TRAINING,
        head=head,
        progress=40,
        started_at=timezone.now(),
        heartbeat_at=heartbeat,
        attempts=attempts,
        lease_token="the-dead-worker",
    )
    return head


def test_a_duplicate_delivery_of_a_live_job_does_nothing(queued, world):
    head = _died_mid_training(queued, heartbeat=timezone.now())  # still beating: alive
    assert training.training_run(job_id=queued.pk, tenant_id=world.user.tenant_id) is None
    row = TrainingJob.objects.get(pk=queued.pk)
    assert (row.state, row.lease_token, row.attempts) == ("training", "the-dead-worker", 1)
    head.refresh_from_db()
    assert head.loss_curve == [9.0, 8.0]


def test_a_dead_workers_job_is_trained_again_into_the_same_head(queued, world, settings):
    head = _died_mid_training(queued, heartbeat=_expired(settings))
    done = training.training_run(job_id=queued.pk, tenant_id=world.user.tenant_id)
    assert done.state == TrainingJob.State.READY and done.attempts == 2
    assert done.head_id == head.pk
    head.refresh_from_db()
    assert head.is_active and len(head.loss_curve) == 4  # the dead run's curve was dropped
    assert PersonalHead.objects.filter(user=world.user).count() == 1


def test_a_job_that_keeps_dying_is_failed(queued, world, settings):
    settings.PSBIR_JOB_MAX_ATTEMPTS = 2
    head = _died_mid_training(queued, heartbeat=_expired(settings), attempts=2)
    assert training.training_run(job_id=queued.pk, tenant_id=world.user.tenant_id) is None
    row = TrainingJob.objects.get(pk=queued.pk)
    assert row.state == TrainingJob.State.FAILED and "stopped 2 times" in row.message
    head.refresh_from_db()
    assert head.status == PersonalHead.Status.FAILED and not head.is_active


def test_a_worker_presumed_dead_publishes_nothing(queued, world, monkeypatch):
    real_collect = training_data.collect

    def taken_over_while_collecting(**kwargs):
        TrainingJob.objects.filter(pk=queued.pk).update(lease_token="the-new-worker")
        return real_collect(**kwargs)

    monkeypatch.setattr(training_data, "collect", taken_over_while_collecting)
    assert training.training_run(job_id=queued.pk, tenant_id=world.user.tenant_id) is None
    row = TrainingJob.objects.get(pk=queued.pk)
    assert row.state == TrainingJob.State.TRAINING and row.lease_token == "the-new-worker"
    assert row.progress == 1  # its later progress was not written
    assert selectors.active_head(user=world.user) is None


def test_the_sweep_requeues_abandoned_jobs_and_fails_long_queued_ones(
    queued, world, member_a, settings, run_on_commit, enqueued
):
    _died_mid_training(queued, heartbeat=_expired(settings))
    with run_on_commit():
        assert training.training_recover() == {"requeued": [queued.pk], "failed": []}
        assert training.training_recover() == {"requeued": [], "failed": []}  # once per lease
    assert enqueued == [queued.pk]

    TrainingJob.objects.filter(pk=queued.pk).update(
        state=TrainingJob.State.QUEUED, created_at=timezone.now() - timedelta(hours=7)
    )
    with run_on_commit():
        assert training.training_recover() == {"requeued": [], "failed": [queued.pk]}
    row = TrainingJob.objects.get(pk=queued.pk)
    assert row.state == "failed" and "worker stopped" in row.message


def test_the_sweep_requeues_a_job_left_queued_for_long(queued, settings, run_on_commit, enqueued):
    later = timezone.now() + timedelta(seconds=settings.PSBIR_JOB_REQUEUE_QUEUED_SECONDS + 1)
    with run_on_commit():
        assert training.training_recover()["requeued"] == []
        assert training.training_recover(now=later)["requeued"] == [queued.pk]
    assert enqueued == [queued.pk]
