"""Index jobs: stored photos -> edge maps, trunk maps, general vectors, a library's FAISS index.

The task (:func:`retrieval.tasks.index_job_task`) takes ids and calls :func:`index_job_run`,
which re-fetches everything through the tenant filter. Photos go through the engine in
batches; after each batch the job's progress is saved and pushed to the organisation's admins.

Index updates never modify a served file: :func:`index_add`, :func:`index_remove` and
:func:`index_rebuild` write a new file and move ``ImageLibrary.index_file`` in one
transaction holding the library's row lock, so concurrent jobs serialise and a search
always reads one complete index. An index built by another model version is never extended:
the job then rebuilds the whole index at the current version instead.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from psbir_site import job_leases
from psbir_site.events import publish, tenant_admin_group
from retrieval import index_store, photos
from retrieval.models import ImageLibrary, IndexJob, LibraryImage

if TYPE_CHECKING:
    from retrieval.engine.pipeline import Engine

logger = logging.getLogger(__name__)

# Progress events carry the latest failures only; the API has the full list.
EVENT_FAILURES = 50
TASK_PATH = "retrieval.tasks.index_job_task"
AUTO_REINDEX_BACKOFF = timedelta(minutes=10)


def batch_size() -> int:
    return max(1, int(settings.PSBIR_INDEX_BATCH_SIZE))


def _chunks(ids: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


# --- progress ------------------------------------------------------------------------------


def job_payload(job: IndexJob) -> dict[str, Any]:
    return {
        "job_id": job.pk,
        "library_id": job.library_id,
        "kind": job.kind,
        "status": job.status,
        "total": job.total,
        "done": job.done,
        "failed": job.failed,
        "failures": job.failures[-EVENT_FAILURES:],
        "message": job.message,
        "model_version": job.model_version,
    }


def job_publish(job: IndexJob) -> None:
    """Push the job's progress to the websockets of the organisation's admins."""
    publish(tenant_admin_group(job.tenant_id), "index_progress", job_payload(job))


_PROGRESS_FIELDS = (
    "attempts",
    "status",
    "total",
    "done",
    "failed",
    "failures",
    "message",
    "model_version",
    "finished_at",
)


def _job_save(job: IndexJob, on_progress: Callable[[IndexJob], None] | None = None) -> None:
    """Save the job's progress and renew its lease (:class:`LeaseLost` if taken over)."""
    job_leases.beat(job, **{name: getattr(job, name) for name in _PROGRESS_FIELDS})
    job_publish(job)
    if on_progress is not None:
        on_progress(job)


def _job_finish(
    job: IndexJob, *, message: str = "", on_progress: Callable[[IndexJob], None] | None = None
) -> IndexJob:
    succeeded = job.total - job.failed
    failed = bool(message) or (job.total > 0 and succeeded <= 0)
    job.status = IndexJob.Status.FAILED if failed else IndexJob.Status.DONE
    job.message = message[:300]
    job.finished_at = timezone.now()
    _job_save(job, on_progress)
    return job


# --- starting jobs -------------------------------------------------------------------------


def index_job_enqueue(job: IndexJob) -> None:
    """Queue the job's task once the surrounding transaction commits (ids only)."""
    from django_q.tasks import async_task

    job_id, tenant_id = job.pk, job.tenant_id
    transaction.on_commit(
        lambda: async_task(TASK_PATH, job_id, tenant_id, task_name=f"index-job-{job_id}")
    )


def active_job(library: ImageLibrary, kind: str | None = None) -> IndexJob | None:
    jobs = IndexJob.objects.for_tenant(library.tenant_id).filter(
        library=library, status__in=[IndexJob.Status.QUEUED, IndexJob.Status.RUNNING]
    )
    if kind is not None:
        jobs = jobs.filter(kind=kind)
    return jobs.order_by("-id").first()


@transaction.atomic
def library_reindex(*, library: ImageLibrary, user: Any = None, enqueue: bool = True) -> IndexJob:
    """Start re-indexing every photo of the library with the current model.

    The served index keeps answering searches until the new one is complete. A re-index
    already waiting or running is returned instead of starting a second one.
    """
    existing = active_job(library, IndexJob.Kind.REINDEX)
    if existing is not None:
        return existing
    total = LibraryImage.objects.for_tenant(library.tenant_id).filter(library=library).count()
    job = IndexJob.objects.create(
        tenant_id=library.tenant_id,
        library=library,
        kind=IndexJob.Kind.REINDEX,
        total=total,
        created_by=user if getattr(user, "pk", None) else None,
    )
    job_publish(job)
    if enqueue:
        index_job_enqueue(job)
    return job


def library_reindex_for_search(*, library: ImageLibrary) -> IndexJob | None:
    """Re-index a library a search found stale, unless a re-index started recently.

    Searches come often; a re-index that keeps failing (say the model files are missing)
    must not be restarted by every one of them.
    """
    since = timezone.now() - AUTO_REINDEX_BACKOFF
    recent = IndexJob.objects.for_tenant(library.tenant_id).filter(
        library=library, kind=IndexJob.Kind.REINDEX, created_at__gte=since
    )
    if recent.exists():
        return None
    return library_reindex(library=library)


def index_jobs_recover(*, now: Any = None) -> list[int]:
    """Queue again the index jobs whose worker stopped; returns their ids (the schedule's job).

    Running jobs whose lease ran out, and queued jobs no worker took for a long time (see
    :mod:`psbir_site.job_leases`). The job itself decides, when a worker takes it, whether to
    resume or to give up after ``PSBIR_JOB_MAX_ATTEMPTS`` runs.
    """
    return job_leases.requeue_abandoned(
        IndexJob,
        running=Q(status=IndexJob.Status.RUNNING),
        queued=Q(status=IndexJob.Status.QUEUED),
        now=now or timezone.now(),
        enqueue=index_job_enqueue,
    )


# --- the job body --------------------------------------------------------------------------


def index_job_run(
    *, job_id: int, tenant_id: int, on_progress: Callable[[IndexJob], None] | None = None
) -> IndexJob | None:
    """Run one import or re-index job to the end (the task body; the CLI calls it directly).

    Safe to run again after a crash: photos already embedded with the current model are not
    embedded twice, and the index is then rebuilt from the trunk-map cache. A delivery that finds
    the job finished, or held by a live worker, does nothing and returns the job as it is.
    """
    from retrieval.engine.errors import ModelNotReadyError, WeightsMissingError
    from retrieval.engine_runtime import get_engine

    claimed = _claim(job_id, tenant_id)
    if claimed is None:
        return IndexJob.objects.for_tenant(tenant_id).filter(pk=job_id).first()
    job, resumed = claimed
    try:
        try:
            engine = get_engine()
        except (WeightsMissingError, ModelNotReadyError) as exc:
            return _job_finish(job, message=str(exc), on_progress=on_progress)
        try:
            return _run(job, engine, resumed=resumed, on_progress=on_progress)
        except job_leases.LeaseLost:
            raise
        except Exception as exc:
            logger.exception("index job %s failed", job.pk)
            _job_finish(job, message=f"Indexing stopped: {exc}", on_progress=on_progress)
            raise
    except job_leases.LeaseLost:
        # This worker was presumed dead and another one runs the job now; whatever this run
        # wrote is repeated there (embeddings are idempotent, the index swap is atomic).
        logger.warning("index job %s was taken over by another worker; this run stops", job_id)
        return None


@transaction.atomic
def _claim(job_id: int, tenant_id: int) -> tuple[IndexJob, bool] | None:
    """Take the job's lease: (job, resumed) or None when there is nothing for this worker."""
    job = IndexJob.objects.for_tenant(tenant_id).select_for_update().filter(pk=job_id).first()
    if job is None or job.status in (IndexJob.Status.DONE, IndexJob.Status.FAILED):
        return None  # the library was deleted meanwhile, or a duplicate delivery of the task
    resumed = job.status == IndexJob.Status.RUNNING
    if resumed and job_leases.is_held(job):
        return None  # a live worker runs it; this is a duplicate delivery
    if job_leases.exhausted(job):
        job.status, job.finished_at = IndexJob.Status.FAILED, timezone.now()
        job.message = (
            f"The background worker stopped {job.attempts} times before finishing this job; "
            "start it again, and tell your administrator if it keeps stopping."
        )
        job.save(update_fields=["status", "finished_at", "message"])
        job_publish(job)
        return None
    fields = job_leases.take(job)
    job.status = IndexJob.Status.RUNNING
    job.save(update_fields=[*fields, "status"])
    return job, resumed


def _run(
    job: IndexJob,
    engine: Engine,
    *,
    resumed: bool,
    on_progress: Callable[[IndexJob], None] | None,
) -> IndexJob:
    library = ImageLibrary.objects.for_tenant(job.tenant_id).get(pk=job.library_id)
    version = engine.model_version
    images = LibraryImage.objects.for_tenant(job.tenant_id).filter(library=library)
    if job.kind == IndexJob.Kind.REINDEX:
        ids = list(images.order_by("id").values_list("id", flat=True))
        job.total, job.done, job.failed, job.failures = len(ids), 0, 0, []
    else:
        ids = list(job.image_ids)
        if resumed:  # count again from the rejected uploads only
            rejected = job.total - len(ids)
            job.done = job.failed = rejected
            job.failures = job.failures[:rejected]
    job.status = IndexJob.Status.RUNNING
    job.model_version = version
    _job_save(job, on_progress)

    # An import extends the served index batch by batch (new photos become searchable at
    # once) unless that index is of another model version; a re-index always builds anew.
    incremental = job.kind == IndexJob.Kind.IMPORT and not resumed
    for batch_ids in _chunks(ids, batch_size()):
        batch = list(images.filter(pk__in=batch_ids))
        todo = [
            img
            for img in batch
            if not (img.status == LibraryImage.Status.INDEXED and img.model_version == version)
        ]
        embedded, vectors, failures = _embed(engine, library, todo, version)
        # Marked before the index update: a rebuild running meanwhile then includes them, and
        # a crash in between is repaired by the rebuild a resumed job ends with.
        _mark_indexed(job.tenant_id, embedded, version)
        if incremental and embedded:
            incremental = index_add(
                library=library, image_ids=embedded, vectors=vectors, model_version=version
            )
        job.done += len(batch_ids)
        # A long job cut short again and again (the task timeout, restarts) is not given up
        # while each run gets further: only runs dying where the last one did count.
        job.attempts = 1
        job.failed += len(failures)
        job.failures = job.failures + failures
        _job_save(job, on_progress)
    if not incremental:
        if job.kind == IndexJob.Kind.IMPORT and _has_stale_photos(library, version):
            # The served index is of another model version and so are photos outside this
            # job: a rebuild now would drop them. Re-index the whole library instead; the
            # old index keeps its version, so searches say it is being re-indexed meanwhile.
            library_reindex(library=library, user=job.created_by)
        else:
            index_rebuild(library=library, engine=engine, on_chunk=lambda: job_leases.beat(job))
    return _job_finish(job, on_progress=on_progress)


def _has_stale_photos(library: ImageLibrary, version: str) -> bool:
    return (
        LibraryImage.objects.for_tenant(library.tenant_id)
        .filter(library=library)
        .exclude(status=LibraryImage.Status.FAILED)
        .exclude(model_version=version)
        .exists()
    )


def _read_photo(image: LibraryImage) -> np.ndarray:
    with image.photo.storage.open(image.photo.name, "rb") as handle:
        return photos.decode_rgb(handle.read())


def _embed(
    engine: Engine, library: ImageLibrary, images: list[LibraryImage], version: str
) -> tuple[list[int], np.ndarray, list[dict[str, str]]]:
    """Trunk-map cache (+ edge maps) for ``images``; returns (ids, general vectors, failures)."""
    failures: list[dict[str, str]] = []
    ready: list[tuple[LibraryImage, np.ndarray]] = []
    for image in images:
        try:
            ready.append((image, _read_photo(image)))
        except (OSError, ValueError) as exc:
            failures.append(_fail(image, f"The stored photo cannot be read ({exc})."))
    embeddings: list[Any] = []
    kept: list[LibraryImage] = []
    if ready:
        try:
            embeddings = engine.embed_photos([rgb for _, rgb in ready])
            kept = [image for image, _ in ready]
        except ValueError:
            # One unusable photo fails a whole batch: redo it one by one to find which.
            for image, rgb in ready:
                try:
                    embeddings.append(engine.embed_photos([rgb])[0])
                    kept.append(image)
                except ValueError as exc:
                    failures.append(_fail(image, str(exc)))
    if not kept:
        return [], np.zeros((0, 0), dtype=np.float32), failures
    ids = [image.pk for image in kept]
    index_store.feature_store(library, version).put(
        ids, np.stack([np.asarray(e.features) for e in embeddings])
    )
    for image, embedding in zip(kept, embeddings, strict=True):
        _store_edge_map(image, embedding.edge_map)
    vectors = np.stack([np.asarray(e.vector, dtype=np.float32) for e in embeddings])
    return ids, vectors, failures


def _store_edge_map(image: LibraryImage, edge_map: np.ndarray | None) -> None:
    """Keep the edge map the model saw; a trunk that takes RGB photos sees none."""
    old = image.edge_map.name if image.edge_map else ""
    if edge_map is None:
        if old:
            LibraryImage.objects.filter(pk=image.pk).update(edge_map="")
            image.edge_map.storage.delete(old)
        return
    image.edge_map.save(
        f"{secrets.token_hex(10)}.png", ContentFile(photos.png_bytes(edge_map)), save=False
    )
    LibraryImage.objects.filter(pk=image.pk).update(edge_map=image.edge_map.name)
    if old:
        image.edge_map.storage.delete(old)


def _fail(image: LibraryImage, message: str) -> dict[str, str]:
    LibraryImage.objects.filter(pk=image.pk).update(
        status=LibraryImage.Status.FAILED, error=message[:300]
    )
    return {"name": image.original_name or f"image {image.pk}", "error": message}


def _mark_indexed(tenant_id: int, image_ids: list[int], version: str) -> None:
    if image_ids:
        LibraryImage.objects.for_tenant(tenant_id).filter(pk__in=image_ids).update(
            status=LibraryImage.Status.INDEXED, model_version=version, error=""
        )


# --- the served index ----------------------------------------------------------------------


def _locked(library: ImageLibrary) -> ImageLibrary:
    return ImageLibrary.objects.select_for_update().for_tenant(library.tenant_id).get(pk=library.pk)


def _swap_in(library: ImageLibrary, index: Any, model_version: str) -> None:
    """Point the (locked) library at a new file holding ``index``; the old file goes on commit."""
    old = library.index_file
    # Saved inside the file too, so a file found on disk says which model wrote it.
    index.metadata.update(model_version=model_version, library_id=library.pk)
    library.index_file = index_store.write_index(index, library, model_version)
    library.model_version = model_version
    library.index_size = len(index)
    library.indexed_at = timezone.now()
    library.save(update_fields=["index_file", "model_version", "index_size", "indexed_at"])
    if old:
        transaction.on_commit(lambda: index_store.delete_index(old))


def index_add(
    *, library: ImageLibrary, image_ids: list[int], vectors: np.ndarray, model_version: str
) -> bool:
    """Add (or replace) vectors in the served index; False when it is of another version."""
    with transaction.atomic():
        locked = _locked(library)
        if locked.index_file and locked.model_version != model_version:
            return False
        index = (
            index_store.read_index(locked.index_file)
            if locked.index_file
            else index_store.empty_index()
        )
        index.add(np.asarray(image_ids, dtype=np.int64), vectors)  # replaces ids present
        _swap_in(locked, index, model_version)
    return True


def index_remove(*, library: ImageLibrary, image_ids: list[int]) -> None:
    """Take photos out of the served index (in the caller's transaction, if any)."""
    with transaction.atomic():
        locked = _locked(library)
        if not locked.index_file:
            return
        index = index_store.read_index(locked.index_file)
        index.remove(np.asarray(image_ids, dtype=np.int64))
        _swap_in(locked, index, locked.model_version)


def index_rebuild(
    *, library: ImageLibrary, engine: Engine, on_chunk: Callable[[], None] | None = None
) -> int:
    """Build the library's index anew from the trunk-map cache at the engine's version; swap it in.

    The head runs over the cache outside any transaction (it is the slow part, and a job's
    lease must be renewed meanwhile: ``on_chunk`` after each chunk); under the library's lock
    only photos indexed since are added, so an import finishing meanwhile is not dropped.
    Photos whose cached features are missing are set back to pending with a message.
    Returns the number of vectors in the new index.
    """
    version = engine.model_version
    store = index_store.feature_store(library, version)
    vectors: dict[int, np.ndarray] = {}

    def indexed_and_cached() -> tuple[list[int], list[int]]:
        ids = list(
            LibraryImage.objects.for_tenant(library.tenant_id)
            .filter(library=library, status=LibraryImage.Status.INDEXED, model_version=version)
            .order_by("id")
            .values_list("id", flat=True)
        )
        cached = {int(i) for i in store.ids()}
        return [i for i in ids if i in cached], [i for i in ids if i not in cached]

    def embed(ids: list[int]) -> None:
        for chunk in _chunks(ids, 256):
            chunk_vectors = np.asarray(engine.head_vectors(store.get(chunk)), dtype=np.float32)
            vectors.update(zip(chunk, chunk_vectors, strict=True))
            if on_chunk is not None:
                on_chunk()

    embed(indexed_and_cached()[0])
    with transaction.atomic():
        locked = _locked(library)
        ids, missing = indexed_and_cached()
        if missing:
            LibraryImage.objects.for_tenant(library.tenant_id).filter(pk__in=missing).update(
                status=LibraryImage.Status.PENDING,
                error="Its cached features are missing; re-index the library.",
            )
        embed([i for i in ids if i not in vectors])
        index = index_store.empty_index()
        if ids:
            index.add(np.asarray(ids, dtype=np.int64), np.stack([vectors[i] for i in ids]))
        _swap_in(locked, index, version)
    return len(ids)


def features_delete(*, library: ImageLibrary, image_ids: list[int]) -> None:
    """Drop cached trunk maps of removed photos, for every model version on disk."""
    root = index_store.feature_root(library)
    if not root.exists():
        return
    from retrieval.engine.features import FeatureStore

    for version_dir in root.iterdir():
        if version_dir.is_dir():
            FeatureStore(version_dir).delete(image_ids)
