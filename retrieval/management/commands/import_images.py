"""Import a server folder of photos into a library, with progress bars.

    python manage.py import_images --tenant SLUG --library NAME FOLDER [--labels CSV] [--queue]

Photos are checked and stored (bar 1), then indexed in this process (bar 2) unless
``--queue`` hands the indexing to the background worker. Refused files are listed at the end
and do not stop the import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from accounts.models import Tenant
from retrieval.labels import LabelsRejected
from retrieval.models import ImageLibrary, IndexJob
from retrieval.services import images as image_services
from retrieval.services import indexing
from retrieval.services.libraries import library_create


class Command(BaseCommand):
    help = "Import the photos of a server folder into an image library and index them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", type=Path, help="Folder with photos (searched recursively).")
        parser.add_argument("--tenant", required=True, help="Organisation slug.")
        parser.add_argument("--library", required=True, help="Library name (created if missing).")
        parser.add_argument(
            "--labels", type=Path, help="CSV with file + category/subcategory/caption columns."
        )
        parser.add_argument(
            "--queue", action="store_true", help="Let the background worker index the photos."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        folder: Path = options["folder"]
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder.")
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No organisation with slug {options['tenant']!r}.")
        library = ImageLibrary.objects.for_tenant(tenant).filter(name=options["library"]).first()
        if library is None:
            library = library_create(tenant=tenant, name=options["library"])
            self.stdout.write(f"Created library “{library.name}” (#{library.pk}).")
        total = len(image_services.folder_photo_paths(folder))
        if total == 0:
            raise CommandError(f"No photos (jpg, png, webp, bmp, gif) under {folder}.")

        with tqdm(total=total, desc="Adding photos", unit="photo") as bar:
            try:
                outcome = image_services.library_import_folder(
                    library=library,
                    folder=folder,
                    labels_csv=options["labels"],
                    enqueue=options["queue"],
                    on_item=lambda item, error: bar.update(1),
                )
            except LabelsRejected as exc:
                raise CommandError(str(exc)) from None
        job = outcome.job
        for problem in outcome.label_problems:
            self.stderr.write(f"labels: {problem}")
        if outcome.added and not options["queue"]:
            job = run_job_with_bar(job, desc="Indexing")
            # An import into an index of an older model version starts a full re-index.
            reindex = indexing.active_job(library, IndexJob.Kind.REINDEX)
            if reindex is not None:
                report(self, job)
                job = run_job_with_bar(reindex, desc="Re-indexing")
        elif outcome.added:
            self.stdout.write(f"Indexing job #{job.pk} queued for the worker.")
        report(self, job)


def run_job_with_bar(job: IndexJob, *, desc: str) -> IndexJob:
    """Run an index job in this process, showing its progress as a bar."""
    with tqdm(total=job.total, initial=job.done, desc=desc, unit="photo") as bar:

        def on_progress(current: IndexJob) -> None:
            bar.total = current.total
            bar.update(current.done - bar.n)

        finished = indexing.index_job_run(
            job_id=job.pk, tenant_id=job.tenant_id, on_progress=on_progress
        )
    return finished or job


def report(command: BaseCommand, job: IndexJob) -> None:
    job.refresh_from_db()
    for failure in job.failures:
        command.stderr.write(f"refused {failure['name']}: {failure['error']}")
    if job.message:
        command.stderr.write(job.message)
    style = command.style.SUCCESS if job.status == IndexJob.Status.DONE else command.style.WARNING
    command.stdout.write(
        style(
            f"Job #{job.pk} {job.status}: {job.total - job.failed} of {job.total} photo(s) "
            f"added, {job.failed} refused. Library “{job.library.name}” holds "
            f"{job.library.index_size} indexed photo(s)."
        )
    )
