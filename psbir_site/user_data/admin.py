"""The Django admin's user pages, whose deletion takes the user's data along.

:class:`accounts.admin.UserAdmin` says how users are listed and edited; it is registered here
because deleting a user deletes their data in every app, files on disk included
(:func:`psbir_site.user_data.services.user_delete`), with one admin-log entry saying what
went in place of the admin's own bare "Deleted" entry.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts import admin as accounts_admin
from accounts.models import User
from psbir_site.user_data import services


@admin.register(User)
class UserAdmin(accounts_admin.UserAdmin):
    def log_deletions(self, request: HttpRequest, queryset: Any) -> list:
        return []  # services.user_delete writes the entry, saying what went

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        services.user_delete(user=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            services.user_delete(user=user, actor=request.user)
