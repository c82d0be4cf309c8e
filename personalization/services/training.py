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
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from personalization import head_files, selectors, training_data
from personalization.models import PersonalHead, TrainingJob
from psbir_site import events, job_leases

logger = logging.getLogger(__name__)

READY_MESSAGE = "Your personalized model is ready"
# How long a job may sit queued before the scheduler gives up on it (no worker ran for that
# long); a running job whose worker died is queued again instead (training_recover).
QUEUED_TIMEOUT = timedelta(hours=6)


# --- configuration (settings with defaults, so the site settings stay short) -----------


def finetune_config(*, seed: int = 0, scope: str = "projection") -> Any:
    from personalization.engine.finetune import FinetuneConfig

    return FinetuneConfig(
        rounds=settings.PSBIR_PERSONAL_ROUNDS,
        batch_size=settings.PSBIR_PERSONAL_BATCH_SIZE,
        lr=settings.PSBIR_PERSONAL_LR,
        seed=seed,
        scope=scope,
    )


def general_head_for(model_version: str) -> Any:
    """The serving general head when the feedback's maps are of its model version (the
    personal head's projection is trained on it and its scale calibrates eq. 18), else None."""
    from retrieval.engine_runtime import get_engine

    engine = get_engine()
    return engine.general_head if engine.model_version == model_version else None


def samples_per_branch() -> int:
    return settings.PSBIR_PERSONAL_SAMPLES_PER_BRANCH


def max_sketches() -> int:
    return settings.PSBIR_PERSONAL_MAX_SKETCHES


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
    if job is None or job.state not in TrainingJob.OPEN_STATES:
        return None  # gone, finished, or another delivery of the same task got it first
    if job.state == TrainingJob.State.TRAINING:
        if job_leases.is_held(job):
            return None  # a live worker trains it; this is a duplicate delivery
        if job.head is None or job.head.status != PersonalHead.Status.TRAINING:
            return None
    if job_leases.exhausted(job):
        _fail(
            job,
            job.head,
            f"The background worker stopped {job.attempts} times before finishing; try again.",
        )
        return None
    if job.state == TrainingJob.State.TRAINING:
        # The worker that held it died (SIGKILL, OOM, the task timeout, a lost machine):
        # train again from the start into the same, never-published head.
        head = job.head
        head.loss_curve = []
        head.save(update_fields=["loss_curve"])
    else:
        head = PersonalHead.objects.create(
            tenant_id=tenant_id,
            user=job.user,
            version=selectors.next_head_version(user=job.user),
            status=PersonalHead.Status.TRAINING,
        )
    lease_fields = job_leases.take(job)
    job.state, job.head, job.progress = TrainingJob.State.TRAINING, head, 1
    job.started_at, job.message = timezone.now(), "Collecting your feedback"
    job.save(update_fields=[*lease_fields, "state", "head", "progress", "started_at", "message"])
    _publish_state(job)
    return job


def training_run(*, job_id: int, tenant_id: int) -> TrainingJob | None:
    """Train the head of one queued job; returns the finished job (None if not queued)."""
    job = _claim(job_id, tenant_id)
    if job is None:
        return None
    head = job.head
    try:
        try:
            return _train(job, head)
        except job_leases.LeaseLost:
            raise
        except Exception as exc:  # the job must end in a state the user can see
            logger.exception("training job %s failed", job.pk)
            return _fail(job, head, f"Training failed ({type(exc).__name__}).")
    except job_leases.LeaseLost:
        # Presumed dead and taken over: the other run trains into the same head row.
        logger.warning("training job %s was taken over by another worker; this run stops", job_id)
        return None


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
    job.progress, job.message = 5, "Fine-tuning on your marked sketches"
    job_leases.beat(job, progress=job.progress, message=job.message)
    _publish_state(job)

    general_head = general_head_for(inputs.model_version)
    # The product's personal head retrains the general head's final projection (seconds,
    # docs/personalization.md); the whole head when there is no EfficientNet general head.
    scope = "projection" if hasattr(general_head, "pooled") else "full"
    config = finetune_config(seed=head.version, scope=scope)
    curve: list[float] = []

    def on_round(done: int, total: int, loss: float) -> None:
        curve.append(loss)
        job.progress = 5 + int(90 * done / total)
        job.message = f"Round {done} of {total}"
        job_leases.beat(job, progress=job.progress, message=job.message)
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
        general_head=general_head,
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
        # Distance scales of the general and this head (scoring.mix); {} when unknown.
        "calibration": result.calibration if "general" in result.calibration else {},
        "config": {
            "rounds": config.rounds,
            "batch_size": config.batch_size,
            "lr": config.lr,
            "lr_halve_every": config.lr_halve_every,
            "trunk": result.trunk,
            "scope": result.scope,
            "q": result.q,
            "h1": result.q / 10,
            "h2": result.q / 2,
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

    # A run taken over meanwhile must not write the head file the new run writes too.
    job_leases.beat(job)
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
    if not job_leases.still_held(job):
        raise job_leases.LeaseLost(f"training job {job.pk} is run by another worker now")
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
def _fail(
    job: TrainingJob, head: PersonalHead | None, message: str, *, leased: bool = True
) -> TrainingJob:
    """End the job and its unfinished head; ``leased``: only while this run holds the job."""
    if leased and job.lease_token and not job_leases.still_held(job):
        raise job_leases.LeaseLost(f"training job {job.pk} is run by another worker now")
    now = timezone.now()
    if head is not None:
        head.status, head.error, head.finished_at = PersonalHead.Status.FAILED, message[:300], now
        head.save()
    job.state, job.finished_at, job.message = TrainingJob.State.FAILED, now, message[:300]
    job.save(update_fields=["state", "finished_at", "message"])
    _publish_state(job)
    return job


# --- the scheduler's side ----------------------------------------------------------------


def training_recover(*, now: Any = None) -> dict[str, list[int]]:
    """Queue again the jobs whose worker stopped; fail those queued for too long.

    Returns ``{"requeued": [...], "failed": [...]}``. A training job whose lease ran out is
    sent to the queue again (the worker that takes it trains anew into the same head, or gives
    up after ``PSBIR_JOB_MAX_ATTEMPTS`` runs); see :mod:`psbir_site.job_leases`.
    """
    now = now or timezone.now()
    failed = job_leases.for_each_locked(
        TrainingJob,
        Q(state=TrainingJob.State.QUEUED, created_at__lt=now - QUEUED_TIMEOUT),
        lambda job: _fail(
            job,
            job.head,
            "The background worker stopped before finishing; try again.",
            leased=False,
        ),
    )
    requeued = job_leases.requeue_abandoned(
        TrainingJob,
        running=Q(state=TrainingJob.State.TRAINING),
        queued=Q(state=TrainingJob.State.QUEUED),
        now=now,
        enqueue=lambda job: transaction.on_commit(lambda: _enqueue(job.pk, job.tenant_id)),
    )
    return {"requeued": requeued, "failed": failed}


def training_check_volume() -> list[int]:
    """Queue a job for every user whose new feedback passed the threshold; returns job ids.

    Run every minute by the django-q2 schedule (the paper's "timer for data size
    monitoring"). "New" = sketches with a live photo mark since the user's latest head.
    """
    training_recover()
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
