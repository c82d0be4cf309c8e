"""Django admin for platform staff: libraries, photos, jobs and searches of every tenant."""

from django.contrib import admin

from retrieval.models import (
    ImageLibrary,
    IndexJob,
    LibraryImage,
    SearchResult,
    SearchSession,
    SketchQuery,
)


@admin.register(ImageLibrary)
class ImageLibraryAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "index_size", "model_version", "indexed_at", "created_at"]
    list_filter = ["tenant"]
    list_select_related = ["tenant"]
    search_fields = ["name", "tenant__name"]
    readonly_fields = ["model_version", "index_file", "index_size", "indexed_at", "created_at"]


@admin.register(LibraryImage)
class LibraryImageAdmin(admin.ModelAdmin):
    list_display = ["id", "original_name", "library", "tenant", "category", "subcategory", "status"]
    list_filter = ["status", "tenant", "library"]
    list_select_related = ["library", "tenant"]
    search_fields = ["original_name", "caption", "category", "subcategory"]
    readonly_fields = [
        "photo",
        "edge_map",
        "thumbnail",
        "sha256",
        "width",
        "height",
        "model_version",
    ]


@admin.register(IndexJob)
class IndexJobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "library",
        "tenant",
        "kind",
        "status",
        "done",
        "total",
        "failed",
        "created_at",
    ]
    list_filter = ["kind", "status", "tenant"]
    list_select_related = ["library", "tenant"]
    readonly_fields = ["failures", "image_ids", "created_at", "finished_at"]


class SearchResultInline(admin.TabularInline):
    model = SearchResult
    fields = ["rank", "image", "distance", "general_distance", "personal_distance"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(SketchQuery)
class SketchQueryAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "tenant", "session", "top_k", "personal_weight", "created_at"]
    list_filter = ["tenant"]
    list_select_related = ["user", "tenant", "session"]
    readonly_fields = ["features", "strokes", "sketch_image", "model_version", "created_at"]
    exclude = ["libraries"]
    inlines = [SearchResultInline]


@admin.register(SearchSession)
class SearchSessionAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "user", "tenant", "updated_at"]
    list_filter = ["tenant"]
    list_select_related = ["user", "tenant"]
