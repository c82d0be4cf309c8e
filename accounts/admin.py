"""Django admin for platform superusers: organisations, their users, open invitations."""

from typing import Any

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts import user_data
from accounts.models import Invitation, Tenant, User


class UserInline(admin.TabularInline):
    model = User
    fields = ["username", "email", "role", "is_active", "last_login"]
    readonly_fields = ["username", "email", "last_login"]
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [UserInline]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "tenant", "role", "is_active", "is_staff", "last_login"]
    list_filter = ["role", "is_active", "is_staff", "is_superuser", "tenant"]
    list_select_related = ["tenant"]
    search_fields = ["username", "email", "first_name", "last_name", "tenant__name"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Organisation", {"fields": ("tenant", "role")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        ("Organisation", {"fields": ("tenant", "role")}),
    )

    # Deleting a user deletes all their data with them, files on disk included, and writes
    # one admin-log entry saying what went (accounts.user_data.user_delete), in place of
    # the admin's own bare "Deleted" entry.
    def log_deletions(self, request: HttpRequest, queryset: Any) -> list:
        return []

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        user_data.user_delete(user=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            user_data.user_delete(user=user, actor=request.user)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "invited_by", "created_at", "expires_at", "accepted_at"]
    list_filter = ["tenant"]
    # The hash is useless to a person and the raw token is never stored.
    exclude = ["token_hash"]
    readonly_fields = ["user", "tenant", "invited_by", "expires_at", "accepted_at"]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(LogEntry)
class LogEntryAdmin(admin.ModelAdmin):
    """The admin log, read-only: the audit trail of data exports and deletions among the rest
    (accounts.audit writes those entries)."""

    list_display = ["action_time", "user", "action_flag", "content_type", "object_repr", "message"]
    list_filter = ["action_flag", "content_type"]
    search_fields = ["object_repr", "change_message", "user__username"]
    date_hierarchy = "action_time"
    list_select_related = ["user", "content_type"]

    @admin.display(description="what")
    def message(self, entry: LogEntry) -> str:
        return entry.get_change_message()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
