"""Training a user's head: request (queue), run (in the worker), watch feedback volume.

States of a :class:`TrainingJob`: queued -> training (progress %) -> ready | failed. At most
one job per user is queued or training (a partial unique constraint in the database). Every
state change and each finished round is pushed to the user's pages as a
``personal_training`` event; a published head also sends ``personal_model_ready``.

The previous head keeps serving throughout: the new head's file is written completely
(atomic replace) before, in one transaction, it becomes the active one. A run that fails
(no usable feedback, non-finite loss, an exception) leaves the active head untouched.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from personalization import head_files, selectors, training_data
from personalization.conf import knob
from personalization.models import PersonalHead, TrainingJob
from psbir_site import events

logger = logging.getLogger(__name__)

READY_MESSAGE = "Your personalized model is ready"
# How long a job may sit queued before the scheduler gives up on it (the worker was down,
# the broker lost the task); a running job is given up after the task timeout.
QUEUED_TIMEOUT = timedelta(hours=6)


# --- configuration (settings with defaults, so the site settings stay short) -----------


def finetune_config(*, seed: int = 0) -> Any:
    from personalization.engine.finetune import FinetuneConfig

    return FinetuneConfig(
        rounds=knob("PSBIR_PERSONAL_ROUNDS"),
        batch_size=knob("PSBIR_PERSONAL_BATCH_SIZE"),
        seed=seed,
    )


def samples_per_branch() -> int:
    return knob("PSBIR_PERSONAL_SAMPLES_PER_BRANCH")


def max_sketches() -> int:
    return knob("PSBIR_PERSONAL_MAX_SKETCHES")


# --- events ------------------------------------------------------------------------------


def job_payload(job: TrainingJob) -> dict[str, Any]:
    head = job.head
    return {
        "job_id": job.pk,
        "state": job.state,
        "progress": job.progress,
        "message": job.message,
        "version": head.version if head is not None else None,
    }


def _publish_state(job: TrainingJob) -> None:
    events.publish(events.user_group(job.user_id), "personal_training", job_payload(job))


# --- request -----------------------------------------------------------------------------


def training_request(
    *, user: Any, requested_by: Any = None, trigger: str = TrainingJob.Trigger.MANUAL
) -> tuple[TrainingJob, bool]:
    """Queue a training job for ``user``; returns (job, created).

    When a job is already queued or training, that job is returned (created False): the
    database allows one open job per user, so two racing requests cannot queue two.
    """
    if not selectors.training_feedback(user=user).exists():
        raise ValidationError(
            {"detail": "Mark the photos you meant on a few searches before training."}
        )
    try:
        with transaction.atomic():
            job = TrainingJob.objects.create(
                tenant_id=user.tenant_id,
                user=user,
                requested_by=requested_by,
                trigger=trigger,
                message="Waiting for the background worker",
            )
            _publish_state(job)
            transaction.on_commit(lambda: _enqueue(job.pk, user.tenant_id))
    except IntegrityError:
        existing = selectors.open_job(user=user)
        if existing is None:  # it finished between our insert and this read: try once more
            return training_request(user=user, requested_by=requested_by, trigger=trigger)
        return existing, False
    return job, True


def _enqueue(job_id: int, tenant_id: int) -> None:
    from django_q.tasks import async_task

    async_task(
        "personalization.tasks.train_head_task",
        job_id,
        tenant_id,
        task_name=f"personal-head-job-{job_id}",
        group="personalization",
    )


# --- run (inside the worker) -------------------------------------------------------------


@transaction.atomic
def _claim(job_id: int, tenant_id: int) -> TrainingJob | None:
    job = (
        TrainingJob.objects.for_tenant(tenant_id)
        .select_for_update()
        .select_related("user")
        .filter(pk=job_id)
        .first()
    )
    if job is None:
        return None
    if job.state == TrainingJob.State.TRAINING and _redelivered(job):
        # The worker that claimed it died (SIGKILL, OOM, machine lost): django-q2 re-sends
        # a task only after ``retry`` seconds, longer than the task ``timeout``, so the first
        # attempt is gone. Train again from the start into the same, never-published head.
        head = job.head
        head.loss_curve = []
        head.save(update_fields=["loss_curve"])
    elif job.state != TrainingJob.State.QUEUED:
        return None  # gone, or another delivery of the same task got it first
    else:
        head = PersonalHead.objects.create(
            tenant_id=tenant_id,
            user=job.user,
            version=selectors.next_head_version(user=job.user),
            status=PersonalHead.Status.TRAINING,
        )
    job.state, job.head, job.progress = TrainingJob.State.TRAINING, head, 1
    job.started_at, job.message = timezone.now(), "Collecting your feedback"
    job.save(update_fields=["state", "head", "progress", "started_at", "message"])
    _publish_state(job)
    return job


def _redelivered(job: TrainingJob) -> bool:
    """A claimed job whose head is unfinished and whose start is older than the task timeout."""
    head = job.head
    if head is None or head.status != PersonalHead.Status.TRAINING or job.started_at is None:
        return False
    timeout = timedelta(seconds=int(settings.Q_CLUSTER.get("timeout", 1800)))
    return timezone.now() - job.started_at >= timeout


def training_run(*, job_id: int, tenant_id: int) -> TrainingJob | None:
    """Train the head of one queued job; returns the finished job (None if not queued)."""
    job = _claim(job_id, tenant_id)
    if job is None:
        return None
    head = job.head
    try:
        return _train(job, head)
    except Exception as exc:  # the job must end in a state the user can see
        logger.exception("training job %s failed", job.pk)
        return _fail(job, head, f"Training failed ({type(exc).__name__}).")


def _train(job: TrainingJob, head: PersonalHead) -> TrainingJob:
    from personalization.engine.finetune import finetune_head
    from retrieval.engine.device import resolve_device

    user = job.user
    try:
        inputs = training_data.collect(
            user=user,
            per_branch=samples_per_branch(),
            max_sketches=max_sketches(),
            seed=head.version,
        )
    except training_data.NoTrainingData as exc:
        return _fail(job, head, str(exc))

    head.feedback_watermark = inputs.watermark
    head.model_version = inputs.model_version
    head.feedback_count = inputs.feedback_count
    head.sketch_count = len(inputs.training_set.sketch_keys)
    head.save(
        update_fields=["feedback_watermark", "model_version", "feedback_count", "sketch_count"]
    )
    job.progress, job.message = 5, "Training"
    job.save(update_fields=["progress", "message"])
    _publish_state(job)

    config = finetune_config(seed=head.version)
    curve: list[float] = []

    def on_round(done: int, total: int, loss: float) -> None:
        curve.append(loss)
        job.progress = 5 + int(90 * done / total)
        job.message = f"Round {done} of {total}"
        job.save(update_fields=["progress", "message"])
        head.loss_curve = list(curve)
        head.save(update_fields=["loss_curve"])
        _publish_state(job)

    result = finetune_head(
        inputs.training_set,
        sketch_maps=inputs.sketch_maps,
        photo_maps=inputs.photo_maps,
        config=config,
        progress=on_round,
        device=str(resolve_device(settings.PSBIR_DEVICE)),
    )
    counts = inputs.training_set.counts()
    head.details = {
        "pairs": {"positive": counts[0.0], "general": counts[0.5], "negative": counts[1.0]},
        "photos": len(inputs.training_set.photo_ids),
        "rules": sorted(set(inputs.training_set.rules.values())),
        "skipped": {str(k): v for k, v in inputs.skipped.items()},
        "missing_branches": {str(k): v for k, v in inputs.training_set.missing.items()},
        "seconds": round(result.seconds, 2),
        "steps": result.steps,
        "config": {
            "rounds": config.rounds,
            "batch_size": config.batch_size,
            "lr": config.lr,
            "lr_halve_every": config.lr_halve_every,
            "q": config.q,
            "h1": config.h1,
            "h2": config.h2,
            "per_branch": samples_per_branch(),
        },
    }
    head.loss_curve = list(result.losses)
    if result.diverged:
        return _fail(
            job,
            head,
            f"Training diverged ({result.error}); your previous model keeps serving.",
        )

    head.file_path = head_files.relative_path(
        tenant_id=job.tenant_id, user_id=user.pk, version=head.version
    )
    head_files.save(
        result.head,
        relative=head.file_path,
        metadata={
            "user_id": user.pk,
            "tenant_id": job.tenant_id,
            "version": head.version,
            "model_version": head.model_version,
            "loss_curve": head.loss_curve,
        },
    )
    return _publish(job, head)


@transaction.atomic
def _publish(job: TrainingJob, head: PersonalHead) -> TrainingJob:
    """The file is complete: make the head the user's active one, in one transaction."""
    now = timezone.now()
    PersonalHead.objects.for_tenant(job.tenant_id).filter(
        user_id=job.user_id, is_active=True
    ).update(is_active=False)
    head.status, head.is_active = PersonalHead.Status.READY, True
    head.finished_at = head.activated_at = now
    head.save()
    job.state, job.progress, job.finished_at = TrainingJob.State.READY, 100, now
    job.message = READY_MESSAGE
    job.save(update_fields=["state", "progress", "finished_at", "message"])
    _publish_state(job)
    events.publish(
        events.user_group(job.user_id),
        "personal_model_ready",
        {"version": head.version, "message": READY_MESSAGE, "job_id": job.pk, "head_id": head.pk},
    )
    return job


@transaction.atomic
def _fail(job: TrainingJob, head: PersonalHead | None, message: str) -> TrainingJob:
    now = timezone.now()
    if head is not None:
        head.status, head.error, head.finished_at = PersonalHead.Status.FAILED, message[:300], now
        head.save()
    job.state, job.finished_at, job.message = TrainingJob.State.FAILED, now, message[:300]
    job.save(update_fields=["state", "finished_at", "message"])
    _publish_state(job)
    return job


# --- the scheduler's side ----------------------------------------------------------------


def training_fail_stale(*, now: Any = None) -> int:
    """Fail jobs whose worker can no longer finish them; returns how many."""
    now = now or timezone.now()
    timeout = timedelta(seconds=int(settings.Q_CLUSTER.get("timeout", 1800)) + 60)
    stale = list(
        TrainingJob.objects.filter(state=TrainingJob.State.TRAINING, started_at__lt=now - timeout)
    ) + list(
        TrainingJob.objects.filter(
            state=TrainingJob.State.QUEUED, created_at__lt=now - QUEUED_TIMEOUT
        )
    )
    for job in stale:
        _fail(job, job.head, "The background worker stopped before finishing; try again.")
    return len(stale)


def training_check_volume() -> list[int]:
    """Queue a job for every user whose new feedback passed the threshold; returns job ids.

    Run every minute by the django-q2 schedule (the paper's "timer for data size
    monitoring"). "New" = sketches with a live photo mark since the user's latest head.
    """
    training_fail_stale()
    queued = []
    threshold = int(settings.PSBIR_FEEDBACK_THRESHOLD)
    for tenant_id, user_id in selectors.users_due_for_training(threshold=threshold):
        user = User.objects.filter(tenant_id=tenant_id, pk=user_id, is_active=True).first()
        if user is None:
            continue
        job, created = training_request(user=user, trigger=TrainingJob.Trigger.AUTO)
        if created:
            queued.append(job.pk)
    return queued
