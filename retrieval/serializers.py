"""API shapes for libraries, photos, jobs, queries and sessions (a search's request and
answer are personalization.search_serializers)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from psbir_site.api_schema import NULLABLE_STRING
from psbir_site.text import PrintableTextField
from retrieval.captions import photo_alt, photo_title
from retrieval.models import (
    ImageLibrary,
    IndexJob,
    LibraryImage,
    SearchResult,
    SearchSession,
    SketchQuery,
)
from retrieval.selectors import existing_query_ids

MAX_FILES_PER_UPLOAD = 500
# Ids are 64-bit (BigAutoField): a larger id cannot exist, and SQLite raises OverflowError
# (a 500) on it inside ``pk__in``, so it is refused as input instead.
MAX_ID = 2**63 - 1


def media_urls(image_id: int) -> dict[str, str]:
    """Tenant-checked URLs of a photo, its thumbnail and its edge map."""
    return {
        "photo_url": reverse("retrieval:image-photo", kwargs={"pk": image_id}),
        "thumb_url": reverse("retrieval:image-thumb", kwargs={"pk": image_id}),
        "edges_url": reverse("retrieval:image-edges", kwargs={"pk": image_id}),
    }


def query_sketch_url(query_id: int) -> str:
    """Tenant-checked URL of a query's drawing (or its photo, for "more like this")."""
    return reverse("retrieval:query-sketch", kwargs={"pk": query_id})


class LibrarySerializer(serializers.ModelSerializer):
    image_count = serializers.IntegerField(read_only=True, default=0)
    indexed_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = ImageLibrary
        fields = [
            "id",
            "name",
            "description",
            "model_version",
            "index_size",
            "indexed_at",
            "image_count",
            "indexed_count",
            "created_at",
        ]
        read_only_fields = ["model_version", "index_size", "indexed_at", "created_at"]
        # Uniqueness per tenant is checked by the service (it knows the tenant).
        validators: list = []


class LibraryWriteSerializer(serializers.Serializer):
    name = PrintableTextField(max_length=120)
    description = PrintableTextField(
        required=False, allow_blank=True, max_length=2000, multiline=True
    )


class ImageSerializer(serializers.ModelSerializer):
    photo_url = serializers.SerializerMethodField()
    thumb_url = serializers.SerializerMethodField()
    edges_url = serializers.SerializerMethodField()
    title = serializers.SerializerMethodField(
        help_text="What to call the photo: its caption, else its file name cleaned."
    )
    alt = serializers.SerializerMethodField(
        help_text="Alt text describing the photo: its title and category."
    )

    class Meta:
        model = LibraryImage
        fields = [
            "id",
            "library",
            "original_name",
            "caption",
            "category",
            "subcategory",
            "width",
            "height",
            "status",
            "error",
            "model_version",
            "created_at",
            "photo_url",
            "thumb_url",
            "edges_url",
            "title",
            "alt",
        ]
        read_only_fields = fields

    def get_title(self, obj: LibraryImage) -> str:
        return photo_title(obj)

    def get_alt(self, obj: LibraryImage) -> str:
        return photo_alt(obj)

    def get_photo_url(self, obj: LibraryImage) -> str:
        return media_urls(obj.pk)["photo_url"]

    def get_thumb_url(self, obj: LibraryImage) -> str:
        return media_urls(obj.pk)["thumb_url"]

    @extend_schema_field(NULLABLE_STRING)
    def get_edges_url(self, obj: LibraryImage) -> str | None:
        return media_urls(obj.pk)["edges_url"] if obj.edge_map else None


class ImageLabelSerializer(serializers.Serializer):
    category = PrintableTextField(required=False, allow_blank=True, max_length=120)
    subcategory = PrintableTextField(required=False, allow_blank=True, max_length=120)
    caption = PrintableTextField(required=False, allow_blank=True, max_length=300)


class ImageUploadSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        allow_empty=False,
        max_length=MAX_FILES_PER_UPLOAD,
        help_text="One or more photos (multipart, repeat the field).",
    )
    category = PrintableTextField(required=False, allow_blank=True, max_length=120)
    subcategory = PrintableTextField(required=False, allow_blank=True, max_length=120)


class ZipUploadSerializer(serializers.Serializer):
    archive = serializers.FileField(help_text="A .zip of photos (folders inside are fine).")
    labels = serializers.FileField(
        required=False, help_text="Optional CSV: file, category, subcategory, caption."
    )


class LabelsUploadSerializer(serializers.Serializer):
    labels = serializers.FileField(help_text="CSV: file, category, subcategory, caption.")


class LabelsOutcomeSerializer(serializers.Serializer):
    updated = serializers.IntegerField()
    unmatched = serializers.ListField(child=serializers.CharField())
    problems = serializers.ListField(child=serializers.CharField())


class FailureSerializer(serializers.Serializer):
    name = serializers.CharField()
    error = serializers.CharField()


class JobSerializer(serializers.ModelSerializer):
    failures = FailureSerializer(many=True, read_only=True)

    class Meta:
        model = IndexJob
        fields = [
            "id",
            "library",
            "kind",
            "status",
            "total",
            "done",
            "failed",
            "failures",
            "message",
            "model_version",
            "attempts",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields


class ImportOutcomeSerializer(serializers.Serializer):
    job = JobSerializer()
    added = ImageSerializer(many=True)
    failures = FailureSerializer(many=True)
    label_problems = serializers.ListField(child=serializers.CharField())


class ResultSerializer(serializers.ModelSerializer):
    image_id = serializers.IntegerField(read_only=True)
    library_id = serializers.IntegerField(source="image.library_id", read_only=True)
    original_name = serializers.CharField(source="image.original_name", read_only=True)
    caption = serializers.CharField(source="image.caption", read_only=True)
    category = serializers.CharField(source="image.category", read_only=True)
    subcategory = serializers.CharField(source="image.subcategory", read_only=True)
    title = serializers.SerializerMethodField(
        help_text="What to call the photo: its caption, else its file name cleaned."
    )
    alt = serializers.SerializerMethodField(
        help_text="Alt text describing the photo (its title and category), for the <img>."
    )
    photo_url = serializers.SerializerMethodField()
    thumb_url = serializers.SerializerMethodField()

    class Meta:
        model = SearchResult
        fields = [
            "id",
            "rank",
            "image_id",
            "library_id",
            "distance",
            "general_distance",
            "personal_distance",
            "original_name",
            "caption",
            "category",
            "subcategory",
            "title",
            "alt",
            "photo_url",
            "thumb_url",
        ]
        read_only_fields = fields

    def get_title(self, obj: SearchResult) -> str:
        return photo_title(obj.image)

    def get_alt(self, obj: SearchResult) -> str:
        return photo_alt(obj.image)

    def get_photo_url(self, obj: SearchResult) -> str:
        return media_urls(obj.image_id)["photo_url"]

    def get_thumb_url(self, obj: SearchResult) -> str:
        return media_urls(obj.image_id)["thumb_url"]


class OfferedSearchSerializer(serializers.Serializer):
    """An earlier search offered as 'drawing the same thing as one of these?'."""

    id = serializers.IntegerField(help_text="Send it as `like_query` to say yes.")
    sketch_url = serializers.CharField(help_text="Its drawing (or photo), to show.")


def _offered_still_there(queries: list[SketchQuery], into: dict[int, list[int]]) -> None:
    """Fill ``into`` (query id -> the searches it offered that still exist, nearest first)
    for ``queries``, one lookup per owner (an offered search can be deleted with its session
    since)."""
    owners: dict[tuple[int, int], list[SketchQuery]] = {}
    for query in queries:
        owners.setdefault((query.tenant_id, query.user_id), []).append(query)
    for (tenant_id, user_id), theirs in owners.items():
        wanted = sorted({int(i) for q in theirs for i in q.suggested_taught_ids or []})
        alive = (
            existing_query_ids(tenant=tenant_id, user_id=user_id, ids=wanted) if wanted else set()
        )
        for query in theirs:
            into[query.pk] = [int(i) for i in query.suggested_taught_ids or [] if int(i) in alive]


class QueryListSerializer(serializers.ListSerializer):
    """Queries in a list (a session's): which of the searches they offered still exist is
    looked up once for the list, not once per query."""

    def to_representation(self, data: Any) -> list[Any]:
        queries = list(data.all() if hasattr(data, "all") else data)
        _offered_still_there(queries, self.context.setdefault("offered_searches", {}))
        return super().to_representation(queries)


class QuerySummarySerializer(serializers.ModelSerializer):
    sketch_url = serializers.SerializerMethodField()
    suggested_taught = serializers.SerializerMethodField(
        help_text="The nearest of your queries you gave feedback on, offered as 'drawing the "
        "same thing as this earlier search?' when saying yes (searching again with "
        "`like_query`) would change the ranking; null otherwise, or deleted since. The first "
        "of `suggested_taught_searches`."
    )
    suggested_taught_sketch_url = serializers.SerializerMethodField()
    suggested_taught_searches = serializers.SerializerMethodField()
    like_query_sketch_url = serializers.SerializerMethodField()
    libraries = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    source_image = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text="More like this: the library photo this query searched with (null: a sketch"
        " query, or the photo was deleted since).",
    )

    class Meta:
        model = SketchQuery
        list_serializer_class = QueryListSerializer
        fields = [
            "id",
            "session",
            "created_at",
            "top_k",
            "personal_weight",
            "model_version",
            "personal_head_version",
            "closeness",
            "nearest_taught",
            "suggested_taught",
            "suggested_taught_sketch_url",
            "suggested_taught_searches",
            "like_query",
            "like_query_sketch_url",
            "libraries",
            "source_image",
            "sketch_url",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "closeness": {
                "help_text": "How close this query was to the nearest of your queries you gave "
                "feedback on (0: none close, or w = 0: the general model's ranking, nothing of "
                "yours read; 1: as close as a repeat)."
            },
            "nearest_taught": {"help_text": "That query (null: none was close)."},
            "like_query": {
                "help_text": "The earlier query you said this one is like (null: none); its "
                "subject's feedback counted fully."
            },
        }

    def get_sketch_url(self, obj: SketchQuery) -> str:
        return query_sketch_url(obj.pk)

    def _offered(self, obj: SketchQuery) -> list[int]:
        """The offered searches still there, nearest first; looked up once per query for
        the three fields (once per list in a list: :class:`QueryListSerializer`)."""
        seen = self.context.setdefault("offered_searches", {})
        if obj.pk not in seen:
            _offered_still_there([obj], seen)
        return seen[obj.pk]

    @extend_schema_field({"type": "integer", "nullable": True})
    def get_suggested_taught(self, obj: SketchQuery) -> int | None:
        offered = self._offered(obj)
        # The nearest offer, as long as it is there (not the next one after a deletion).
        return obj.suggested_taught_id if offered[:1] == [obj.suggested_taught_id] else None

    def get_suggested_taught_sketch_url(self, obj: SketchQuery) -> str | None:
        nearest = self.get_suggested_taught(obj)
        if nearest is None:
            return None
        return query_sketch_url(nearest)

    @extend_schema_field(OfferedSearchSerializer(many=True))
    def get_suggested_taught_searches(self, obj: SketchQuery) -> list[dict]:
        return [{"id": i, "sketch_url": query_sketch_url(i)} for i in self._offered(obj)]

    def get_like_query_sketch_url(self, obj: SketchQuery) -> str | None:
        if obj.like_query_id is None:
            return None
        return query_sketch_url(obj.like_query_id)


class QueryDetailSerializer(QuerySummarySerializer):
    results = serializers.SerializerMethodField()
    strokes = serializers.JSONField(read_only=True)

    class Meta(QuerySummarySerializer.Meta):
        fields = [*QuerySummarySerializer.Meta.fields, "strokes", "results"]
        read_only_fields = fields

    @extend_schema_field(ResultSerializer(many=True))
    def get_results(self, obj: SketchQuery) -> list[dict[str, Any]]:
        results = getattr(obj, "ordered_results", None)
        if results is None:
            results = obj.results.select_related("image").order_by("rank")
        return ResultSerializer(results, many=True).data


class SessionSerializer(serializers.ModelSerializer):
    query_count = serializers.IntegerField(read_only=True, default=0)
    last_sketch_url = serializers.SerializerMethodField()

    class Meta:
        model = SearchSession
        fields = ["id", "title", "created_at", "updated_at", "query_count", "last_sketch_url"]
        read_only_fields = ["id", "created_at", "updated_at", "query_count", "last_sketch_url"]

    @extend_schema_field(NULLABLE_STRING)
    def get_last_sketch_url(self, obj: SearchSession) -> str | None:
        recent = getattr(obj, "recent", None)
        if recent is None:
            recent = list(obj.queries.order_by("-id")[:1])
        return query_sketch_url(recent[0].pk) if recent else None


class SessionDetailSerializer(SessionSerializer):
    queries = serializers.SerializerMethodField()

    class Meta(SessionSerializer.Meta):
        fields = [*SessionSerializer.Meta.fields, "queries"]

    @extend_schema_field(QuerySummarySerializer(many=True))
    def get_queries(self, obj: SearchSession) -> list[dict[str, Any]]:
        queries = obj.queries.prefetch_related("libraries").order_by("-id")
        return QuerySummarySerializer(queries, many=True).data


class SessionWriteSerializer(serializers.Serializer):
    title = PrintableTextField(
        max_length=120,
        allow_blank=True,
        required=False,
        help_text="Blank or omitted: the automatic title (when the session started, what its "
        "first search was probably of, how many searches it holds), which follows its "
        "searches until it is renamed.",
    )
