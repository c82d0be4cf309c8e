"""Django admin for platform staff: feedback, heads, training jobs and w of every tenant.

Heads are activated through the app (services keep one active head per user and check the
file); here everything but ``is_active`` is read-only.
"""

from django.contrib import admin

from personalization.models import Feedback, PersonalHead, PersonalizationSettings, TrainingJob


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "tenant", "query", "result", "kind", "created_at", "withdrawn_at"]
    list_filter = ["kind", "tenant"]
    list_select_related = ["user", "tenant"]
    raw_id_fields = ["user", "query", "result"]
    readonly_fields = ["created_at"]


@admin.register(PersonalHead)
class PersonalHeadAdmin(admin.ModelAdmin):
    list_display = ["user", "version", "status", "is_active", "feedback_count", "created_at"]
    list_filter = ["status", "is_active", "tenant"]
    list_select_related = ["user"]
    readonly_fields = [
        f.name for f in PersonalHead._meta.concrete_fields if f.name not in ("id", "is_active")
    ]


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "trigger", "state", "progress", "created_at", "finished_at"]
    list_filter = ["state", "trigger", "tenant"]
    list_select_related = ["user"]
    readonly_fields = [f.name for f in TrainingJob._meta.concrete_fields if f.name != "id"]


@admin.register(PersonalizationSettings)
class PersonalizationSettingsAdmin(admin.ModelAdmin):
    list_display = ["user", "personal_weight", "updated_at"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
