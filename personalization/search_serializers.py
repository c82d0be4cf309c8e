"""API shapes of the search a user runs: the request, the answer, before / after."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from personalization.services.search import validate_search_settings
from retrieval.serializers import MAX_ID, QueryDetailSerializer, media_urls


class StrictFloatField(serializers.FloatField):
    """A float that refuses booleans (DRF would read true as 1.0, i.e. w = 1)."""

    def to_internal_value(self, data: object) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class SearchRequestSerializer(serializers.Serializer):
    libraries = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=100,
        help_text="Library ids to search; all of your organisation's when omitted or empty.",
    )
    strokes = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text='Canvas strokes: {"width": W, "height": H, "strokes": [{"points": '
        '[[x, y], ...], "width": 4, "erase": false}, ...]}',
    )
    sketch = serializers.FileField(
        required=False, help_text="A sketch image (PNG/JPEG), instead of strokes."
    )
    image = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_ID,
        help_text="More like this: the id of one of your organisation's library photos to "
        "search with, instead of a sketch (its stored vector; the photo is left out of the "
        "results). Another organisation's id is a 404.",
    )
    top_k = serializers.IntegerField(required=False, help_text="K results, 1..PSBIR_MAX_TOP_K.")
    personal_weight = StrictFloatField(
        required=False, allow_null=True, help_text="w in [0, 1]; your default when omitted."
    )
    session = serializers.IntegerField(
        required=False, allow_null=True, help_text="Add the query to this session of yours."
    )
    like_query = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_ID,
        help_text="One of your earlier queries you gave feedback on that this search is like "
        "(one of a response's `suggested_taught_searches`): the feedback of its subject then "
        "counts fully. Not one of yours: 404; without live marks: 400.",
    )
    new_session = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Start a new session for this query. Without it (and without `session`) the "
        "query joins your most recent session.",
    )

    def to_internal_value(self, data: Any) -> Any:
        # A multipart form cannot carry a JSON null: the text "null" stands for it there, as
        # an empty value does, for the fields that may be null.
        if hasattr(data, "getlist"):
            data = data.copy()
            for name, field in self.fields.items():
                if getattr(field, "allow_null", False) and data.get(name) in ("null", ""):
                    data[name] = None
        return super().to_internal_value(data)

    def validate_strokes(self, value: Any) -> Any:
        # Multipart requests carry the strokes as a JSON string.
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise serializers.ValidationError("Strokes must be JSON.") from None
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError(
                "Strokes must be an object with width, height, strokes."
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        from django.conf import settings

        if attrs.get("session") is not None and attrs.get("new_session"):
            raise serializers.ValidationError(
                {"new_session": "Give `session` or `new_session`, not both."}
            )
        if (
            attrs.get("strokes") is None
            and attrs.get("sketch") is None
            and attrs.get("image") is None
        ):
            raise serializers.ValidationError(
                {
                    "strokes": "Draw a sketch (strokes), upload a sketch image (sketch) or "
                    "name a library photo (image)."
                }
            )
        try:
            top_k, weight = validate_search_settings(
                top_k=attrs.get("top_k", settings.PSBIR_DEFAULT_TOP_K),
                personal_weight=attrs.get("personal_weight"),
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        attrs["top_k"], attrs["personal_weight"] = top_k, weight
        return attrs


class SearchResponseSerializer(QueryDetailSerializer):
    warnings = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta(QueryDetailSerializer.Meta):
        fields = [*QueryDetailSerializer.Meta.fields, "warnings"]
        read_only_fields = fields


class ComparedResultSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    image_id = serializers.IntegerField()
    distance = serializers.FloatField()
    general_distance = serializers.FloatField()
    personal_distance = serializers.FloatField(allow_null=True)
    marked = serializers.BooleanField(help_text="You marked this photo as meant on the query.")
    thumb_url = serializers.SerializerMethodField()

    def get_thumb_url(self, obj: Any) -> str:
        return media_urls(obj.image_id)["thumb_url"]


class RankChangeSerializer(serializers.Serializer):
    image_id = serializers.IntegerField()
    then_rank = serializers.IntegerField(allow_null=True)
    general_rank = serializers.IntegerField(
        allow_null=True, help_text="Today, general model (null: not in the top K)."
    )
    personal_rank = serializers.IntegerField(
        allow_null=True, help_text="Today, personalized at your w (null: not in the top K)."
    )
    moved = serializers.IntegerField(
        allow_null=True, help_text="Places gained from then to today's personalized list."
    )
    label = serializers.CharField(help_text='E.g. "#14 -> #2".')


class ComparisonSerializer(serializers.Serializer):
    query_id = serializers.IntegerField(source="query.pk")
    query_kind = serializers.SerializerMethodField()
    top_k = serializers.IntegerField(source="query.top_k")
    then_model_version = serializers.CharField(source="query.model_version")
    then_personal_weight = serializers.FloatField(source="query.personal_weight")
    then_personal_head_version = serializers.IntegerField(
        source="query.personal_head_version", allow_null=True
    )
    model_version = serializers.CharField(help_text="Today's general model.")
    personal_weight = serializers.FloatField(help_text="Today's w (0 when not personalized).")
    personal_head_version = serializers.IntegerField(allow_null=True)
    personalized = serializers.BooleanField(help_text="A personal head re-scored today's list.")
    memory_marks = serializers.IntegerField(
        help_text="Photos you marked that pulled today's personalized list (before training too)."
    )
    then = ComparedResultSerializer(many=True, help_text="The results stored with the query.")
    now_general = ComparedResultSerializer(many=True)
    now_personal = ComparedResultSerializer(many=True)
    changes = RankChangeSerializer(many=True, help_text="Every photo you marked on the query.")
    warnings = serializers.ListField(child=serializers.CharField())

    @extend_schema_field(serializers.ChoiceField(choices=["strokes", "sketch", "photo"]))
    def get_query_kind(self, obj: Any) -> str:
        return obj.query.kind
