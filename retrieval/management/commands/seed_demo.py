"""Create the demo organisation, its users and its indexed demo library (idempotent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from tqdm import tqdm

from accounts.models import Tenant, User
from retrieval.models import ImageLibrary, IndexJob, LibraryImage
from retrieval.services import indexing
from retrieval.services.images import images_delete, labels_import_csv, library_import_folder
from retrieval.services.libraries import library_create

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo_library"
DEMO_TENANT_SLUG = "demo"
DEMO_LIBRARY = "Demo clip art"
DEMO_PASSWORD = "demo-sketch-2026"
DEMO_USERS = (("demo", User.Role.MEMBER), ("demo-admin", User.Role.ADMIN))


class Command(BaseCommand):
    help = "Create the demo organisation, a demo member and admin, and index the demo library."

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = self._tenant_and_users()
        library = self._library(tenant)
        self._index(library)
        indexed = LibraryImage.objects.for_tenant(tenant).filter(
            library=library, status=LibraryImage.Status.INDEXED
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"\nDemo organisation '{tenant.name}' is ready: library '{library.name}' "
                f"with {indexed.count()} indexed photos.\n"
                f"  member login: demo / {DEMO_PASSWORD}\n"
                f"  admin login:  demo-admin / {DEMO_PASSWORD}\n"
            )
        )

    @transaction.atomic
    def _tenant_and_users(self) -> Tenant:
        tenant, _ = Tenant.objects.get_or_create(
            slug=DEMO_TENANT_SLUG, defaults={"name": "Demo Organisation"}
        )
        for username, role in DEMO_USERS:
            if not User.objects.filter(username=username).exists():
                User.objects.create_user(
                    username=username, password=DEMO_PASSWORD, tenant=tenant, role=role
                )
        return tenant

    def _library(self, tenant: Tenant) -> ImageLibrary:
        library = ImageLibrary.objects.for_tenant(tenant).filter(name=DEMO_LIBRARY).first()
        if library is None:
            library = library_create(
                tenant=tenant,
                name=DEMO_LIBRARY,
                description="Public-domain clip art from the Open Clip Art Library.",
            )
        if not LibraryImage.objects.for_tenant(tenant).filter(library=library).exists():
            images = sorted((DEMO_DIR / "images").iterdir())
            with tqdm(total=len(images), desc="adding demo photos", unit="photo") as bar:
                library_import_folder(
                    library=library,
                    folder=DEMO_DIR / "images",
                    labels_csv=DEMO_DIR / "manifest.csv",
                    enqueue=False,
                    on_item=lambda item, error: bar.update(1),
                )
        else:
            # Labels follow the bundled manifest (its captions were file names before issue 21).
            labels_import_csv(library=library, data=(DEMO_DIR / "manifest.csv").read_bytes())
        self._drop_removed(library)
        return library

    def _drop_removed(self, library: ImageLibrary) -> int:
        """Remove demo photos no longer bundled (e.g. the placeholder dropped from the set)."""
        bundled = {path.name for path in (DEMO_DIR / "images").iterdir()}
        gone = LibraryImage.objects.for_tenant(library.tenant_id).filter(library=library)
        gone = [
            image.pk
            for image in gone.only("pk", "original_name")
            if image.original_name not in bundled
        ]
        removed = images_delete(library=library, image_ids=gone) if gone else 0
        if removed:
            self.stdout.write(f"Removed {removed} demo photo(s) no longer in the bundled set.")
        return removed

    def _index(self, library: ImageLibrary) -> None:
        """Run unfinished demo jobs here, so the first search works as soon as the site is up.

        A library indexed by an older general model is re-indexed rather than served mixed.
        """
        from retrieval.engine_runtime import get_engine

        library.refresh_from_db()
        if library.model_version and library.model_version != get_engine().model_version:
            self.stdout.write("The general model changed since the demo was indexed: re-indexing.")
            indexing.library_reindex(library=library, enqueue=False)
        unfinished = IndexJob.objects.for_tenant(library.tenant_id).filter(
            library=library, status__in=[IndexJob.Status.QUEUED, IndexJob.Status.RUNNING]
        )
        for job in unfinished.order_by("id"):
            with tqdm(total=job.total, desc="indexing demo library", unit="photo") as bar:

                def show(progress: IndexJob, bar: tqdm = bar) -> None:
                    bar.n = progress.done
                    bar.refresh()

                indexing.index_job_run(job_id=job.pk, tenant_id=job.tenant_id, on_progress=show)
