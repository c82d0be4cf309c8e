"""Django admin for platform superusers: organisations, their users, open invitations."""

from typing import Any

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest

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


class UserAdmin(DjangoUserAdmin):
    """How users are listed and edited. Registered on the site's top floor
    (psbir_site.user_data.admin), whose deletion takes the user's data in every app along."""

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
