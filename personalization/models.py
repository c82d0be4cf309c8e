"""Feedback on search results, each user's personalized heads, their training jobs and w.

All rows are tenant-owned and per user: a colleague in the same organisation sees none of
them (tenant admins may see and roll back their users' heads, never their feedback).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import TenantOwnedModel
from psbir_site.models import LeasedJob


class Feedback(TenantOwnedModel):
    """ "This is the photo I meant" (``result`` set) or "none of these" (``result`` null),
    given on one stored query. Withdrawing keeps the row with ``withdrawn_at`` set, so the
    history says what a head was trained on."""

    class Kind(models.TextChoices):
        MATCH = "match", "The photo I meant"
        NONE = "none", "None of these"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="search_feedback"
    )
    query = models.ForeignKey(
        "retrieval.SketchQuery", on_delete=models.CASCADE, related_name="feedback"
    )
    result = models.ForeignKey(
        "retrieval.SearchResult",
        on_delete=models.CASCADE,
        related_name="feedback",
        null=True,
        blank=True,
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "withdrawn_at", "id"])]
        constraints = [
            # One live mark per result, one live "none of these" per query.
            models.UniqueConstraint(
                fields=["result"],
                condition=Q(withdrawn_at__isnull=True, result__isnull=False),
                name="one_live_feedback_per_result",
            ),
            models.UniqueConstraint(
                fields=["query"],
                condition=Q(withdrawn_at__isnull=True, kind="none"),
                name="one_live_none_per_query",
            ),
            models.CheckConstraint(
                condition=(Q(kind="match", result__isnull=False) | Q(kind="none", result=None)),
                name="feedback_kind_matches_result",
            ),
        ]

    def __str__(self) -> str:
        return f"feedback {self.pk} ({self.kind}) on query {self.query_id}"


class PersonalizationSettings(TenantOwnedModel):
    """A user's w of eq. 18 (absent row: ``settings.PSBIR_DEFAULT_PERSONAL_WEIGHT``)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personalization"
    )
    personal_weight = models.FloatField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(personal_weight__gte=0.0, personal_weight__lte=1.0),
                name="personal_weight_between_0_and_1",
            )
        ]


class PersonalHead(TenantOwnedModel):
    """One trained (or failed) conv6 head of one user. Versions count up per user.

    At most one head per user is active; the active one serves rankings. A new head is
    written to its file first and activated afterwards in one transaction, so the previous
    head serves until the new one is complete.
    """

    class Status(models.TextChoices):
        TRAINING = "training", "Training"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_heads"
    )
    version = models.PositiveIntegerField()
    # Relative to settings.PSBIR_MODEL_DIR; built from server-side ids only.
    file_path = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.TRAINING)
    is_active = models.BooleanField(default=False)
    feedback_count = models.PositiveIntegerField(default=0)
    sketch_count = models.PositiveIntegerField(default=0)
    # The last Feedback id the training set was built from ("new feedback since this head").
    feedback_watermark = models.PositiveBigIntegerField(default=0)
    # General model version of the trunk maps it was trained on; it only re-scores those.
    model_version = models.CharField(max_length=80, blank=True)
    loss_curve = models.JSONField(default=list, blank=True)
    # Sizes and rules of the eq. 9 set, training time, config: what the history page shows.
    details = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=300, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["user", "version"], name="unique_head_version"),
            models.UniqueConstraint(
                fields=["user"], condition=Q(is_active=True), name="one_active_head_per_user"
            ),
            models.CheckConstraint(
                condition=Q(is_active=False) | Q(status="ready"),
                name="only_ready_heads_are_active",
            ),
        ]

    def __str__(self) -> str:
        return f"head v{self.version} of {self.user_id}"


class TrainingJob(TenantOwnedModel, LeasedJob):
    """One request to train a user's head: queued -> training (progress %) -> ready | failed."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        TRAINING = "training", "Training"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        AUTO = "auto", "Enough new feedback"
        MANUAL = "manual", "Requested"

    OPEN_STATES = (State.QUEUED, State.TRAINING)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="training_jobs"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    trigger = models.CharField(max_length=8, choices=Trigger.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    head = models.ForeignKey(
        PersonalHead, on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs"
    )
    message = models.CharField(max_length=300, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # At most one queued-or-running job per user, enforced by the database.
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(state__in=["queued", "training"]),
                name="one_open_training_job_per_user",
            ),
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="training_progress_at_most_100"
            ),
        ]

    def __str__(self) -> str:
        return f"training job {self.pk} ({self.state})"
