"""django-q2 entry points: they take ids and call services (which re-fetch by tenant)."""

from __future__ import annotations

from personalization.services import training


def train_head_task(job_id: int, tenant_id: int) -> None:
    """Train the head of one queued :class:`~personalization.models.TrainingJob`."""
    training.training_run(job_id=job_id, tenant_id=tenant_id)


def check_feedback_volume() -> list[int]:
    """The schedule's entry point: queue training for users with enough new feedback."""
    return training.training_check_volume()


def warm_up() -> str:
    """A no-op that loads torch: lets a benchmark wait until a worker can train."""
    import torch

    return torch.__version__
