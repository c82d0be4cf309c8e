"""Index jobs hold a lease: duplicates do nothing, dead workers' jobs are queued again and
resumed, a worker presumed dead stops writing, and a job that keeps dying is given up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from retrieval.models import IndexJob
from retrieval.services import images as image_services
from retrieval.services import indexing
from tests.retrieval.fakes import shape_png

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued_job(make_library, tenant_a, fake_engine, settings) -> IndexJob:
    settings.PSBIR_INDEX_BATCH_SIZE = 2
    library = make_library(tenant_a)
    items = [
        image_services.UploadItem(name=f"s{i}.png", data=shape_png("square", seed=i))
        for i in range(4)
    ]
    outcome = image_services.images_import(library=library, items=items, enqueue=False)
    return outcome.job


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:
    """Jobs handed to django-q2 (recorded instead of queued)."""
    calls: list[int] = []
    monkeypatch.setattr(indexing, "index_job_enqueue", lambda job: calls.append(job.pk))
    return calls


def _expired(settings) -> timezone.datetime:
    return timezone.now() - timedelta(seconds=settings.PSBIR_JOB_LEASE_SECONDS + 1)


def _as_if_running(job: IndexJob, *, heartbeat, attempts: int = 1) -> None:
    IndexJob.objects.filter(pk=job.pk).update(
        status=IndexJob.Status.RUNNING,
        heartbeat_at=heartbeat,
        attempts=attempts,
        lease_token="the-other-worker",
    )


def test_a_run_takes_a_lease_and_renews_it(queued_job, fake_engine):
    done = indexing.index_job_run(job_id=queued_job.pk, tenant_id=queued_job.tenant_id)
    assert done.status == IndexJob.Status.DONE and done.attempts == 1
    assert len(done.lease_token) == 32 and done.heartbeat_at >= done.created_at


def test_a_duplicate_delivery_while_the_lease_is_held_does_nothing(queued_job, fake_engine):
    _as_if_running(queued_job, heartbeat=timezone.now())
    again = indexing.index_job_run(job_id=queued_job.pk, tenant_id=queued_job.tenant_id)
    assert again.status == IndexJob.Status.RUNNING and again.lease_token == "the-other-worker"
    assert fake_engine.photos_embedded == 0 and again.attempts == 1


def test_a_job_whose_lease_expired_is_taken_over_and_finished(queued_job, fake_engine, settings):
    _as_if_running(queued_job, heartbeat=_expired(settings))
    done = indexing.index_job_run(job_id=queued_job.pk, tenant_id=queued_job.tenant_id)
    assert done.status == IndexJob.Status.DONE and (done.done, done.failed) == (4, 0)
    assert done.lease_token != "the-other-worker"


def test_a_worker_presumed_dead_stops_at_its_next_beat(queued_job, fake_engine, monkeypatch):
    real_embed = fake_engine.embed_photos

    def taken_over_after_first_batch(images):
        if fake_engine.calls == 1:  # another worker took the job while this one was slow
            IndexJob.objects.filter(pk=queued_job.pk).update(lease_token="the-other-worker")
        return real_embed(images)

    monkeypatch.setattr(fake_engine, "embed_photos", taken_over_after_first_batch)
    assert indexing.index_job_run(job_id=queued_job.pk, tenant_id=queued_job.tenant_id) is None
    row = IndexJob.objects.get(pk=queued_job.pk)
    # Its progress after the take-over was not written, and it did not finish the job.
    assert row.status == IndexJob.Status.RUNNING and row.done == 2
    assert row.lease_token == "the-other-worker" and fake_engine.calls == 2


def test_a_job_that_keeps_dying_is_given_up(queued_job, fake_engine, settings):
    settings.PSBIR_JOB_MAX_ATTEMPTS = 3
    _as_if_running(queued_job, heartbeat=_expired(settings), attempts=3)
    row = indexing.index_job_run(job_id=queued_job.pk, tenant_id=queued_job.tenant_id)
    assert row.status == IndexJob.Status.FAILED and "stopped 3 times" in row.message
    assert fake_engine.photos_embedded == 0


def test_a_long_job_cut_short_repeatedly_keeps_going_while_it_progresses(
    queued_job, fake_engine, settings, monkeypatch
):
    settings.PSBIR_JOB_MAX_ATTEMPTS = 2
    settings.PSBIR_INDEX_BATCH_SIZE = 1  # a resumed run skips photos already embedded
    real_embed = fake_engine.embed_photos
    batches_before_death = {"left": 1}

    def dies_after_one_batch(images):
        if batches_before_death["left"] == 0:
            raise SystemExit("the task timeout killed this run")  # nothing in the job runs
        batches_before_death["left"] -= 1
        return real_embed(images)

    monkeypatch.setattr(fake_engine, "embed_photos", dies_after_one_batch)
    for _ in range(2):  # two runs in a row die, each one batch further
        batches_before_death["left"] = 1
        with pytest.raises(SystemExit):
            indexing.index_job_run(job_id=queued_job.pk, tenant_id=queued_job.tenant_id)
        IndexJob.objects.filter(pk=queued_job.pk).update(heartbeat_at=_expired(settings))
    batches_before_death["left"] = 10
    done = indexing.index_job_run(job_id=queued_job.pk, tenant_id=queued_job.tenant_id)
    assert done.status == IndexJob.Status.DONE and (done.done, done.failed) == (4, 0)
    assert fake_engine.photos_embedded == 4  # each photo once, over three runs


def test_the_sweep_requeues_abandoned_jobs_once_per_lease(
    queued_job, make_library, tenant_b, fake_engine, settings, enqueued
):
    live = indexing.library_reindex(library=make_library(tenant_b), enqueue=False)
    _as_if_running(live, heartbeat=timezone.now())
    _as_if_running(queued_job, heartbeat=_expired(settings))

    assert indexing.index_jobs_recover() == [queued_job.pk]
    assert enqueued == [queued_job.pk]
    assert indexing.index_jobs_recover() == []  # not again within a lease
    later = timezone.now() + timedelta(seconds=settings.PSBIR_JOB_LEASE_SECONDS + 1)
    assert set(indexing.index_jobs_recover(now=later)) == {queued_job.pk, live.pk}
    # The requeued task resumes the job where the dead worker left it.
    done = indexing.index_job_run(job_id=queued_job.pk, tenant_id=queued_job.tenant_id)
    assert done.status == IndexJob.Status.DONE


def test_the_sweep_requeues_jobs_left_queued_for_long_and_skips_finished_ones(
    queued_job, fake_engine, settings, enqueued
):
    assert indexing.index_jobs_recover() == []  # queued a moment ago: the queue has it
    later = timezone.now() + timedelta(seconds=settings.PSBIR_JOB_REQUEUE_QUEUED_SECONDS + 1)
    assert indexing.index_jobs_recover(now=later) == [queued_job.pk]
    indexing.index_job_run(job_id=queued_job.pk, tenant_id=queued_job.tenant_id)
    much_later = later + timedelta(days=1)
    assert indexing.index_jobs_recover(now=much_later) == []


def test_the_sweep_is_scheduled_every_minute():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(func="retrieval.tasks.recover_index_jobs")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == ("I", 1, -1)
