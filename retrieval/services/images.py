"""Adding, labelling and removing library photos.

A batch (several uploads, a zip, a server folder) is checked file by file: a bad file is
recorded as a failure of the batch's :class:`~retrieval.models.IndexJob` with a message
and the rest carries on. Accepted photos are stored at once and indexed by a background
task (:mod:`retrieval.services.indexing`).
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from psbir_site.text import clean_text
from retrieval import archives, photos
from retrieval.labels import LabelRow, match_key, parse_labels_csv
from retrieval.models import ImageLibrary, IndexJob, LibraryImage
from retrieval.services import indexing

FOLDER_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"}


@dataclass(frozen=True)
class UploadItem:
    """One file of a batch: its display name and bytes, or why it was refused upstream."""

    name: str
    data: bytes | None = None
    error: str | None = None


@dataclass
class ImportOutcome:
    job: IndexJob
    added: list[LibraryImage] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    label_problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LabelsOutcome:
    updated: int
    unmatched: list[str]
    problems: list[str]


def _display_name(name: str) -> str:
    return (name or "unnamed").replace("\\", "/").strip()[-255:]


def image_add(
    *,
    library: ImageLibrary,
    name: str,
    data: bytes,
    category: str = "",
    subcategory: str = "",
    caption: str = "",
) -> LibraryImage:
    """Check and store one photo (status pending); raise ``photos.PhotoRejected`` if unusable.

    Indexing is not started here: callers batch photos into one job.
    """
    checked = photos.check_photo(data, name=name)
    duplicate = (
        LibraryImage.objects.for_tenant(library.tenant_id)
        .filter(library=library, sha256=checked.sha256)
        .values_list("pk", flat=True)
        .first()
    )
    if duplicate is not None:
        raise photos.PhotoRejected(f"The same photo is already in this library (#{duplicate}).")
    thumb = photos.thumbnail_jpeg(checked.rgb)
    token = secrets.token_hex(10)  # stored names say nothing about the upload's own name
    with transaction.atomic():
        image = LibraryImage(
            tenant_id=library.tenant_id,
            library=library,
            original_name=_display_name(name),
            caption=caption[:300],
            category=category[:120],
            subcategory=subcategory[:120],
            width=checked.width,
            height=checked.height,
            sha256=checked.sha256,
        )
        image.photo.save(f"{token}.{checked.extension}", ContentFile(data), save=False)
        image.thumbnail.save(f"{token}.jpg", ContentFile(thumb), save=False)
        image.save()
    return image


def images_import(
    *,
    library: ImageLibrary,
    items: Iterable[UploadItem],
    labels: dict[str, LabelRow] | None = None,
    defaults: dict[str, str] | None = None,
    user: Any = None,
    enqueue: bool = True,
    on_item: Callable[[UploadItem, str | None], None] | None = None,
) -> ImportOutcome:
    """Store a batch of photos and create the import job that indexes them.

    Labels come from ``labels`` (by file name, see :func:`labels.match_key`), else from
    ``defaults`` (e.g. one category for a whole upload).

    Each photo is its own short transaction so a large batch never holds the database; the
    job records every refused file. With ``enqueue`` the indexing task starts on commit;
    without it the caller runs :func:`indexing.index_job_run` itself (the CLI does).
    ``on_item(item, error)`` is called after each file (progress bars).
    """
    job = IndexJob.objects.create(
        tenant_id=library.tenant_id, library=library, kind=IndexJob.Kind.IMPORT, created_by=user
    )
    outcome = ImportOutcome(job=job)
    total = 0
    for item in items:
        total += 1
        error = item.error
        if error is None:
            row = (labels or {}).get(match_key(item.name))
            try:
                image = image_add(
                    library=library,
                    name=item.name,
                    data=item.data or b"",
                    **(row.values() if row else defaults or {}),
                )
                outcome.added.append(image)
            except photos.PhotoRejected as exc:
                error = str(exc)
        if error is not None:
            outcome.failures.append({"name": _display_name(item.name), "error": error})
        if on_item is not None:
            on_item(item, error)
    job.total = total
    job.done = job.failed = len(outcome.failures)
    job.failures = outcome.failures
    job.image_ids = [image.pk for image in outcome.added]
    if not outcome.added:
        job.status = IndexJob.Status.FAILED if outcome.failures else IndexJob.Status.DONE
        job.message = "No photo in this batch could be added." if outcome.failures else ""
        job.finished_at = timezone.now()
    job.save()
    indexing.job_publish(job)
    if outcome.added and enqueue:
        indexing.index_job_enqueue(job)
    return outcome


def uploads_as_items(files: Iterable[Any]) -> Iterator[UploadItem]:
    """Django ``UploadedFile`` objects -> items, refusing oversize files before reading them."""
    from django.conf import settings

    limit = settings.PSBIR_MAX_UPLOAD_BYTES
    for upload in files:
        name = getattr(upload, "name", "") or "upload"
        if upload.size is not None and upload.size > limit:
            yield UploadItem(name=name, error=f"The file is larger than the {limit:,} byte limit.")
            continue
        yield UploadItem(name=name, data=upload.read())


def zip_as_items(fileobj: BinaryIO) -> Iterator[UploadItem]:
    """The archive's entries as items; ``archives.ArchiveRejected`` before the first one."""
    for entry in archives.iter_zip(fileobj):
        yield UploadItem(name=entry.name, data=entry.data, error=entry.error)


def folder_photo_paths(folder: Path) -> list[Path]:
    """The image files under ``folder``, recursively, in a stable order (symlinks skipped)."""
    return sorted(
        p
        for p in Path(folder).rglob("*")
        if p.is_file() and not p.is_symlink() and p.suffix.lower() in FOLDER_EXTENSIONS
    )


def files_as_items(paths: Iterable[Path], *, root: Path) -> Iterator[UploadItem]:
    """Server files as items named relative to ``root``, read one at a time."""
    from django.conf import settings

    limit = settings.PSBIR_MAX_UPLOAD_BYTES
    for path in paths:
        name = Path(path).relative_to(root).as_posix()
        if Path(path).stat().st_size > limit:
            yield UploadItem(name=name, error=f"The file is larger than the {limit:,} byte limit.")
        else:
            yield UploadItem(name=name, data=Path(path).read_bytes())


def library_import_folder(
    *,
    library: ImageLibrary,
    folder: Path,
    labels_csv: Path | None = None,
    user: Any = None,
    enqueue: bool = True,
    on_item: Callable[[UploadItem, str | None], None] | None = None,
) -> ImportOutcome:
    """Import every photo under a server folder (the CLI and the demo seed use this).

    ``labels_csv`` (columns ``file`` + ``category``/``subcategory``/``caption``) labels the
    photos as they are added; raises ``labels.LabelsRejected`` for an unusable CSV.
    """
    folder = Path(folder)
    labels, problems = parse_labels_csv(Path(labels_csv).read_bytes()) if labels_csv else ({}, [])
    outcome = images_import(
        library=library,
        items=files_as_items(folder_photo_paths(folder), root=folder),
        labels=labels,
        user=user,
        enqueue=enqueue,
        on_item=on_item,
    )
    outcome.label_problems = problems
    return outcome


def library_import_zip(
    *,
    library: ImageLibrary,
    archive: BinaryIO,
    archive_size: int,
    labels_csv: bytes | None = None,
    user: Any = None,
    enqueue: bool = True,
) -> ImportOutcome:
    """Import the photos of an uploaded zip, optionally labelled by a CSV.

    Raises ``archives.ArchiveRejected`` (too big, unreadable, too many files, nothing in it)
    or ``labels.LabelsRejected`` before anything is stored; single bad entries become
    failures of the job.
    """
    from django.conf import settings

    if archive_size > settings.PSBIR_MAX_ZIP_BYTES:
        raise archives.ArchiveRejected(
            f"The archive is larger than the {settings.PSBIR_MAX_ZIP_BYTES:,} byte limit."
        )
    labels, problems = parse_labels_csv(labels_csv) if labels_csv is not None else ({}, [])
    entries = zip_as_items(archive)
    first = next(entries, None)  # the archive-wide checks run before the first entry
    if first is None:
        raise archives.ArchiveRejected("The archive holds no files.")
    outcome = images_import(
        library=library,
        items=itertools.chain([first], entries),
        labels=labels,
        user=user,
        enqueue=enqueue,
    )
    outcome.label_problems = problems
    return outcome


def labels_apply(*, library: ImageLibrary, labels: dict[str, LabelRow]) -> LabelsOutcome:
    """Set category / sub-category / caption of the library's photos named in ``labels``."""
    seen: set[str] = set()
    changed: list[LibraryImage] = []
    for image in LibraryImage.objects.for_tenant(library.tenant_id).filter(library=library):
        key = match_key(image.original_name)
        row = labels.get(key)
        if row is None:
            continue
        seen.add(key)
        for name, value in row.values().items():
            setattr(image, name, value)
        changed.append(image)
    with transaction.atomic():
        LibraryImage.objects.bulk_update(
            changed, ["category", "subcategory", "caption"], batch_size=500
        )
    unmatched = sorted(row.file for key, row in labels.items() if key not in seen)
    return LabelsOutcome(updated=len(changed), unmatched=unmatched, problems=[])


def labels_import_csv(*, library: ImageLibrary, data: bytes) -> LabelsOutcome:
    """Parse a labels CSV and apply it; raises ``labels.LabelsRejected`` for an unusable file."""
    rows, problems = parse_labels_csv(data)
    outcome = labels_apply(library=library, labels=rows)
    return LabelsOutcome(updated=outcome.updated, unmatched=outcome.unmatched, problems=problems)


@transaction.atomic
def image_label(
    *,
    image: LibraryImage,
    category: str | None = None,
    subcategory: str | None = None,
    caption: str | None = None,
) -> LibraryImage:
    fields = []
    for name, value, limit in (
        ("category", category, 120),
        ("subcategory", subcategory, 120),
        ("caption", caption, 300),
    ):
        if value is not None:
            setattr(image, name, clean_text(value, field=name, max_length=limit, allow_blank=True))
            fields.append(name)
    if fields:
        image.save(update_fields=fields)
    return image


def images_delete(*, library: ImageLibrary, image_ids: Iterable[int]) -> int:
    """Remove photos of ``library`` (ids of other libraries or tenants are ignored)."""
    images = list(
        LibraryImage.objects.for_tenant(library.tenant_id).filter(
            library=library, pk__in=list(image_ids)
        )
    )
    if not images:
        return 0
    ids = [image.pk for image in images]
    files = [f for image in images for f in (image.photo, image.edge_map, image.thumbnail) if f]
    with transaction.atomic():
        # Out of the served index first, in the same transaction as the rows: a search never
        # returns an id whose row is gone (and results are re-checked against rows anyway).
        indexing.index_remove(library=library, image_ids=ids)
        LibraryImage.objects.for_tenant(library.tenant_id).filter(pk__in=ids).delete()
        transaction.on_commit(lambda: _delete_files(files))
    indexing.features_delete(library=library, image_ids=ids)
    return len(ids)


def image_delete(*, image: LibraryImage) -> None:
    images_delete(library=image.library, image_ids=[image.pk])


def _delete_files(files: list[Any]) -> None:
    for field_file in files:
        field_file.storage.delete(field_file.name)
