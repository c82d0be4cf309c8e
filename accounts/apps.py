from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _create_cache_table(using: str = "default", **kwargs: Any) -> None:
    # The login throttle keeps its counters in the Django cache, which on the embedded
    # default is the database cache: its table is not a model, so `migrate` alone would
    # leave login crashing with "no such table". createcachetable is idempotent and a
    # no-op for non-database cache backends (Redis).
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Organisations and accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(_create_cache_table, sender=self)
