"""Organisations (tenants), their users, and the base every tenant-owned model shares."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.http import Http404

if TYPE_CHECKING:
    from django.db.models import QuerySet


class Tenant(models.Model):
    """An organisation: it owns users, image libraries and everything derived from them."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    class Role(models.TextChoices):
        ADMIN = "admin", "Organisation admin"
        MEMBER = "member", "Member"

    # Null only for platform superusers created with createsuperuser.
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="users", null=True, blank=True
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    email = models.EmailField(blank=True)

    @property
    def is_tenant_admin(self) -> bool:
        return self.tenant_id is not None and self.role == self.Role.ADMIN


class TenantQuerySet(models.QuerySet):
    def for_tenant(self, tenant: Tenant | int) -> QuerySet:
        tenant_id = tenant if isinstance(tenant, int) else tenant.pk
        return self.filter(tenant_id=tenant_id)

    def get_for_tenant_or_404(self, tenant: Tenant | int, **lookup: object) -> models.Model:
        """Fetch one object of ``tenant``; absent and "someone else's" are the same 404."""
        try:
            return self.for_tenant(tenant).get(**lookup)
        except (self.model.DoesNotExist, ValueError, TypeError) as exc:
            raise Http404(f"No {self.model._meta.verbose_name} matches the given query.") from exc


class TenantOwnedModel(models.Model):
    """Base of every model holding tenant data: one tenant column, one way to query it.

    ``objects`` is the scoped entry point (``Model.objects.for_tenant(t)``); code that reads
    tenant data outside of it is a bug the isolation tests are there to catch.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class Invitation(TenantOwnedModel):
    """A single-use link that lets an invited member choose their own password.

    Only a SHA-256 of the token is stored: the raw token exists once, in the link shown to
    the admin who created it, so a database leak does not hand out accounts.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"invitation for {self.user}"
