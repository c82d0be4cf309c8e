"""API shapes of the insight endpoints: why this result, a photo's index entry (before / after
is personalization.search_serializers)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from psbir_site.api_schema import NULLABLE_STRING
from retrieval.serializers import media_urls, query_sketch_url

TERM_LABELS = {
    "general": "general model",
    "head": "your personalized model",
    "marks": "your marks",
}


class WhyTermSerializer(serializers.Serializer):
    name = serializers.ChoiceField(choices=list(TERM_LABELS))
    label = serializers.CharField()
    share = serializers.FloatField(help_text="How much this distance counts (shares add to 1).")
    distance = serializers.FloatField()
    product = serializers.FloatField(help_text="share x distance; the products add to the score.")


class MovedBySerializer(serializers.Serializer):
    """The earlier feedback that pulled this photo: a mark, and the query it was given for."""

    marked_this_photo = serializers.BooleanField(
        help_text="True: you marked this very photo; false: a photo like it."
    )
    image_id = serializers.IntegerField(help_text="The photo you marked.")
    image_thumb_url = serializers.CharField()
    query_id = serializers.IntegerField(allow_null=True)
    query_sketch_url = serializers.CharField(allow_null=True, help_text="That query's picture.")
    session_id = serializers.IntegerField(allow_null=True)


def why_terms(result: Any) -> list[dict[str, Any]] | None:
    """The terms the stored score adds up from, in order; None for a result stored before
    the terms were kept (its score then has no breakdown)."""
    stored = result.terms or {}
    if not stored:
        if result.personal_distance is not None:
            return None
        return [_term("general", 1.0, result.general_distance)]
    return [_term(name, *stored[name]) for name in TERM_LABELS if name in stored]


def _term(name: str, share: float, distance: float) -> dict[str, Any]:
    return {
        "name": name,
        "label": TERM_LABELS[name],
        "share": float(share),
        "distance": float(distance),
        "product": float(share) * float(distance),
    }


def why_moved_by(result: Any) -> dict[str, Any] | None:
    from retrieval.models import SketchQuery

    mark = (result.terms or {}).get("mark")
    if not mark:
        return None
    query = (
        SketchQuery.objects.for_tenant(result.tenant_id)
        .filter(pk=mark.get("query_id"), user_id=result.query.user_id)
        .only("id", "session_id")
        .first()
    )
    return {
        "marked_this_photo": int(mark["image_id"]) == result.image_id,
        "image_id": int(mark["image_id"]),
        "image_thumb_url": media_urls(int(mark["image_id"]))["thumb_url"],
        "query_id": None if query is None else query.pk,
        "query_sketch_url": None if query is None else query_sketch_url(query.pk),
        "session_id": None if query is None else query.session_id,
    }


class ResultWhySerializer(serializers.Serializer):
    """Why one stored result is where it is: the distances it was ranked by and what to
    overlay (the query's binarised sketch is in the same 256x256 frame as the photo padded
    white to a square, which is what the network compared)."""

    result_id = serializers.IntegerField(source="pk")
    rank = serializers.IntegerField()
    image_id = serializers.IntegerField()
    query_id = serializers.IntegerField(source="query.pk")
    query_kind = serializers.SerializerMethodField()
    source_image = serializers.IntegerField(source="query.source_image_id", allow_null=True)
    distance = serializers.FloatField(help_text="What the ranking was sorted by.")
    general_distance = serializers.FloatField()
    personal_distance = serializers.FloatField(
        allow_null=True, help_text="Null when no personal head re-scored this query."
    )
    personal_weight = serializers.FloatField(source="query.personal_weight")
    personal_head_version = serializers.IntegerField(
        source="query.personal_head_version", allow_null=True
    )
    model_version = serializers.CharField(source="query.model_version")
    closeness = serializers.FloatField(
        source="query.closeness",
        help_text="How close the query was to the nearest query your feedback answered "
        "(0: none, so nothing personal was mixed in; 1: as close as your own repeats).",
    )
    like_query = serializers.IntegerField(
        source="query.like_query_id",
        allow_null=True,
        help_text="The earlier query you said this search is like (closeness 1 to its "
        "subject's feedback); null: closeness was measured.",
    )
    terms = serializers.SerializerMethodField(
        help_text="The distances the score adds up from, each with its share; the products "
        "add up to ``distance``. Null for results stored before the terms were kept."
    )
    moved_by = serializers.SerializerMethodField(
        help_text="The mark that pulled this photo (null: no mark did)."
    )
    strokes = serializers.JSONField(source="query.strokes", allow_null=True)
    sketch_url = serializers.SerializerMethodField()
    photo_url = serializers.SerializerMethodField()
    edges_url = serializers.SerializerMethodField()
    overlay_frame = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ChoiceField(choices=["strokes", "sketch", "photo"]))
    def get_query_kind(self, obj: Any) -> str:
        return obj.query.kind

    def get_sketch_url(self, obj: Any) -> str:
        return query_sketch_url(obj.query_id)

    @extend_schema_field(WhyTermSerializer(many=True, allow_null=True))
    def get_terms(self, obj: Any) -> list[dict[str, Any]] | None:
        return why_terms(obj)

    @extend_schema_field(MovedBySerializer(allow_null=True))
    def get_moved_by(self, obj: Any) -> dict[str, Any] | None:
        return why_moved_by(obj)

    def get_photo_url(self, obj: Any) -> str:
        return media_urls(obj.image_id)["photo_url"]

    @extend_schema_field(NULLABLE_STRING)
    def get_edges_url(self, obj: Any) -> str | None:
        """The photo's edge map, where the model uses one (null for RGB trunks)."""
        return media_urls(obj.image_id)["edges_url"] if obj.image.edge_map else None

    def get_overlay_frame(self, obj: Any) -> str:
        return "square-256-white-padded"


class IndexEntrySerializer(serializers.Serializer):
    image_id = serializers.IntegerField()
    status = serializers.CharField()
    image_model_version = serializers.CharField(allow_blank=True)
    library_model_version = serializers.CharField(allow_blank=True)
    index_size = serializers.IntegerField()
    in_index = serializers.BooleanField(help_text="The served FAISS index holds its vector.")
    vector_norm = serializers.FloatField(allow_null=True)
    vector_preview = serializers.ListField(
        child=serializers.FloatField(), help_text="The first 8 dimensions of its vector."
    )
    trunk_map_cached = serializers.BooleanField()
    trunk_map_shape = serializers.ListField(child=serializers.IntegerField())
    trunk_map_mean = serializers.FloatField(allow_null=True)
    trunk_map_max = serializers.FloatField(allow_null=True)
    has_edge_map = serializers.BooleanField()
    edges_url = serializers.SerializerMethodField()

    @extend_schema_field(NULLABLE_STRING)
    def get_edges_url(self, obj: dict[str, Any]) -> str | None:
        return media_urls(obj["image_id"])["edges_url"] if obj["has_edge_map"] else None
