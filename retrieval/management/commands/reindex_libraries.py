"""Re-index libraries with the current model, in this process, with a progress bar.

    python manage.py reindex_libraries [--tenant SLUG] [--library NAME] [--stale-only]

Use it after the general model changed (a new head or new weights): searches keep using
each old index until its new one is complete.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from retrieval.management.commands.import_images import report, run_job_with_bar
from retrieval.models import ImageLibrary
from retrieval.services import indexing


class Command(BaseCommand):
    help = "Re-index image libraries with the current general model."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", help="Only this organisation (slug).")
        parser.add_argument("--library", help="Only the library of this name (needs --tenant).")
        parser.add_argument(
            "--stale-only",
            action="store_true",
            help="Skip libraries already indexed with the current model.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["library"] and not options["tenant"]:
            raise CommandError("--library needs --tenant.")
        # A platform command across tenants: every job below is still run per tenant.
        libraries = ImageLibrary.objects.select_related("tenant").order_by("tenant_id", "name")
        if options["tenant"]:
            libraries = libraries.filter(tenant__slug=options["tenant"])
        if options["library"]:
            libraries = libraries.filter(name=options["library"])
        version = None
        if options["stale_only"]:
            from retrieval.engine_runtime import get_engine

            version = get_engine().model_version
        for library in libraries:
            if version is not None and library.model_version == version:
                continue
            self.stdout.write(f"{library.tenant.slug} / {library.name}")
            job = indexing.library_reindex(library=library, enqueue=False)
            report(self, run_job_with_bar(job, desc="Re-indexing"))
