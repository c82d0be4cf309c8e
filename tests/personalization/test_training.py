"""Training a head in-process: the job's states, the head swap, failures, the volume check."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from personalization import head_files, selectors
from personalization.lab.synthetic import general_head
from personalization.models import Feedback, PersonalHead, TrainingJob
from personalization.ranking import rank_for_user
from personalization.services import training
from psbir_site.models import OutboxEvent
from retrieval.engine.model import head_vectors
from tests.personalization import factories
from tests.personalization.conftest import build_world

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_training")]


@pytest.fixture
def enqueued(monkeypatch):
    """Jobs handed to django-q2 (recorded instead of queued: no worker runs here)."""
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(
        training, "_enqueue", lambda job_id, tenant_id: calls.append((job_id, tenant_id))
    )
    return calls


def events_for(user_id: int) -> list[dict]:
    return [e.payload for e in OutboxEvent.objects.filter(group=f"user-{user_id}").order_by("id")]


def train(user, run_on_commit):
    with run_on_commit():
        job, created = training.training_request(user=user, requested_by=user)
    assert created
    with run_on_commit():
        return training.training_run(job_id=job.pk, tenant_id=user.tenant_id)


def test_training_publishes_an_active_head_and_says_so(world, run_on_commit, enqueued):
    job = train(world.user, run_on_commit)
    assert enqueued == [(job.pk, world.user.tenant_id)]
    assert (job.state, job.progress) == (TrainingJob.State.READY, 100)
    head = PersonalHead.objects.get(user=world.user)
    assert (head.version, head.status, head.is_active) == (1, "ready", True)
    assert head_files.absolute_path(head.file_path).is_file()
    assert len(head.loss_curve) == 4  # fast_training: 4 rounds
    assert head.sketch_count == 6 and head.feedback_count == 6
    assert head.details["pairs"] == {"positive": 24, "general": 24, "negative": 24}
    assert head.details["rules"] == ["labels"]
    assert head.feedback_watermark == Feedback.objects.filter(user=world.user).latest("id").id

    events = events_for(world.user.pk)
    states = [e["state"] for e in events if e["event"] == "personal_training"]
    assert states[0] == "queued" and states[-1] == "ready" and "training" in states
    progress = [e["progress"] for e in events if e["event"] == "personal_training"]
    assert progress == sorted(progress)  # only ever forward
    ready = [e for e in events if e["event"] == "personal_model_ready"]
    assert ready == [
        {
            "event": "personal_model_ready",
            "version": 1,
            "message": "Your personalized model is ready",
            "job_id": job.pk,
            "head_id": head.pk,
        }
    ]


def test_a_new_head_replaces_the_previous_one(world, run_on_commit, enqueued):
    train(world.user, run_on_commit)
    train(world.user, run_on_commit)
    heads = {h.version: h for h in PersonalHead.objects.filter(user=world.user)}
    assert heads[2].is_active and not heads[1].is_active
    assert heads[1].status == heads[2].status == "ready"


def test_failing_training_leaves_the_old_head_serving(world, run_on_commit, enqueued):
    old = factories.make_head(world.user, head=general_head())
    for query in world.queries:  # a non-finite sketch map makes the eq. 14 loss non-finite
        query.features = np.full((512, 8, 8), np.inf, dtype=np.float16).tobytes()
        query.save(update_fields=["features"])
    job = train(world.user, run_on_commit)
    assert job.state == TrainingJob.State.FAILED
    assert "diverged" in job.message and "previous model keeps serving" in job.message
    failed = PersonalHead.objects.get(user=world.user, version=2)
    assert (failed.status, failed.is_active, failed.file_path) == ("failed", False, "")
    assert selectors.active_head(user=world.user) == old

    ranked = rank_for_user(
        user=world.user,
        query=factories.asked(world.lib.sketch_maps(0, 1)[0]),
        candidate_ids=np.array([im.pk for im in world.images]),
        general_distances=np.arange(len(world.images), dtype=np.float32),
        top_k=5,
        personal_weight=0.5,
    )
    assert ranked.personal_head_version == 1
    assert [e for e in events_for(world.user.pk) if e["event"] == "personal_model_ready"] == []


def test_exception_during_training_fails_the_job(world, run_on_commit, enqueued, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(training.training_data, "collect", boom)
    job = train(world.user, run_on_commit)
    assert job.state == "failed" and "RuntimeError" in job.message
    assert PersonalHead.objects.get(user=world.user).status == "failed"


def test_feedback_that_cannot_be_used_fails_with_a_reason(world, run_on_commit, enqueued):
    for query in world.queries:
        query.features = None
        query.save(update_fields=["features"])
    job = train(world.user, run_on_commit)
    assert job.state == "failed" and "no cached features" in job.message


def test_unlabelled_library_trains_on_derived_groups(member_a, run_on_commit, enqueued):
    world = build_world(member_a, labelled=False)
    vectors = head_vectors(general_head(), world.lib.photo_maps(np.arange(world.lib.size)))
    factories.write_general_index(world.library, world.images, vectors)
    job = train(member_a, run_on_commit)
    assert job.state == "ready", job.message
    head = PersonalHead.objects.get(user=member_a)
    assert head.details["rules"] == ["derived"]


def test_one_open_job_per_user(world, run_on_commit, enqueued):
    with run_on_commit():
        first, created = training.training_request(user=world.user)
        again, created_again = training.training_request(user=world.user)
    assert created and not created_again and again.pk == first.pk
    assert len(enqueued) == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        TrainingJob.objects.create(
            tenant_id=world.user.tenant_id, user=world.user, trigger="manual"
        )


def test_a_job_is_claimed_once(world, run_on_commit, enqueued):
    with run_on_commit():
        job, _ = training.training_request(user=world.user)
        assert training.training_run(job_id=job.pk, tenant_id=world.user.tenant_id) is not None
        # A second delivery of the same task (django-q2 retry) does nothing.
        assert training.training_run(job_id=job.pk, tenant_id=world.user.tenant_id) is None
    assert PersonalHead.objects.filter(user=world.user).count() == 1


def test_job_of_another_tenant_is_not_run(world, tenant_b, run_on_commit, enqueued):
    with run_on_commit():
        job, _ = training.training_request(user=world.user)
    assert training.training_run(job_id=job.pk, tenant_id=tenant_b.pk) is None
    assert TrainingJob.objects.get(pk=job.pk).state == "queued"


def test_training_without_feedback_is_refused(member_a):
    with pytest.raises(ValidationError):
        training.training_request(user=member_a)


def test_volume_check_queues_users_past_the_threshold_once(
    world, run_on_commit, enqueued, settings
):
    settings.PSBIR_FEEDBACK_THRESHOLD = 7  # the world has 6 marked sketches
    with run_on_commit():
        assert training.training_check_volume() == []
    settings.PSBIR_FEEDBACK_THRESHOLD = 6
    with run_on_commit():
        [job_id] = training.training_check_volume()
        assert training.training_check_volume() == []  # a job is open
    job = TrainingJob.objects.get(pk=job_id)
    assert job.trigger == "auto" and job.requested_by is None
    with run_on_commit():
        training.training_run(job_id=job_id, tenant_id=world.user.tenant_id)
        # The new head's watermark covers all feedback: nothing new, nothing queued.
        assert selectors.new_feedback_sketches(user=world.user) == 0
        assert training.training_check_volume() == []


def test_withdrawn_and_none_feedback_do_not_count(world, settings):
    settings.PSBIR_FEEDBACK_THRESHOLD = 6
    assert selectors.users_due_for_training(threshold=6) == [(world.user.tenant_id, world.user.pk)]
    Feedback.objects.filter(user=world.user, query=world.queries[0]).update(
        withdrawn_at=timezone.now()
    )
    Feedback.objects.create(
        tenant_id=world.user.tenant_id, user=world.user, query=world.queries[0], kind="none"
    )
    assert selectors.new_feedback_sketches(user=world.user) == 5
    assert selectors.users_due_for_training(threshold=6) == []


def test_stale_jobs_are_failed(world, run_on_commit, enqueued):
    with run_on_commit():
        job, _ = training.training_request(user=world.user)
    TrainingJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(hours=7))
    with run_on_commit():
        assert training.training_recover()["failed"] == [job.pk]
    job.refresh_from_db()
    assert job.state == "failed" and "worker stopped" in job.message


def test_schedule_exists():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(func="personalization.tasks.check_feedback_volume")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == ("I", 1, -1)


def test_training_takes_its_budget_and_learning_rate_from_the_settings(settings):
    from personalization.services.training import finetune_config

    settings.PSBIR_PERSONAL_LR = 5e-4
    settings.PSBIR_PERSONAL_ROUNDS = 7
    config = finetune_config(seed=3)
    assert (config.lr, config.rounds, config.seed, config.scope) == (5e-4, 7, 3, "projection")
