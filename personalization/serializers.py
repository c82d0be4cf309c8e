"""API shapes for feedback, w, training jobs and personal heads."""

from __future__ import annotations

from rest_framework import serializers

from personalization.models import Feedback, PersonalHead, TrainingJob


class FeedbackSerializer(serializers.ModelSerializer):
    # null for "None of these" (a mark on the query, not on one result).
    image_id = serializers.IntegerField(
        source="result.image_id", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Feedback
        fields = ["id", "query", "result", "image_id", "kind", "created_at", "withdrawn_at"]
        read_only_fields = fields


# Ids are 64-bit: a larger one cannot exist, and SQLite overflows on it inside ``pk__in`` (500).
MAX_ID = 2**63 - 1


class FeedbackCreateSerializer(serializers.Serializer):
    query_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    result_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        default=list,
        max_length=200,
    )
    none_of_these = serializers.BooleanField(required=False, default=False)


class FeedbackForgottenSerializer(serializers.Serializer):
    withdrawn = serializers.IntegerField(help_text="How many of your marks were withdrawn.")


class WeightField(serializers.FloatField):
    """A float in [0, 1]; booleans (which DRF would read as 0 / 1) are refused."""

    def to_internal_value(self, data: object) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class WeightSerializer(serializers.Serializer):
    personal_weight = WeightField(
        min_value=0.0,
        max_value=1.0,
        help_text="w: 0 = the general model only; 1 = what you taught (your marks and your "
        "personalized model) counts fully on searches close to the ones you gave feedback on",
    )


class FeedbackFilterSerializer(serializers.Serializer):
    query_id = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Only this query's feedback."
    )


class SettingsSerializer(WeightSerializer):
    default_weight = serializers.FloatField(read_only=True)
    is_default = serializers.BooleanField(read_only=True)


class TrainingJobSerializer(serializers.ModelSerializer):
    # null until the job has a head (queued, or failed before training started).
    version = serializers.IntegerField(
        source="head.version", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = TrainingJob
        fields = [
            "id",
            "user",
            "trigger",
            "state",
            "progress",
            "message",
            "version",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class PersonalHeadSerializer(serializers.ModelSerializer):
    class Meta:
        model = PersonalHead
        fields = [
            "id",
            "user",
            "version",
            "status",
            "is_active",
            "feedback_count",
            "sketch_count",
            "model_version",
            "loss_curve",
            "details",
            "error",
            "created_at",
            "finished_at",
            "activated_at",
        ]
        read_only_fields = fields


class StatusSerializer(serializers.Serializer):
    """What the search page's personalization panel shows."""

    personal_weight = serializers.FloatField()
    active_version = serializers.IntegerField(allow_null=True)
    new_feedback_sketches = serializers.IntegerField()
    has_marks = serializers.BooleanField(
        help_text="You have at least one live mark: training can start (Train now)."
    )
    threshold = serializers.IntegerField()
    job = TrainingJobSerializer(allow_null=True)


class RollbackResultSerializer(serializers.Serializer):
    deactivated = serializers.IntegerField()
