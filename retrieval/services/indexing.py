"""Index jobs: stored photos -> edge maps, trunk maps, general vectors in a library's vector
store (a FAISS file, or pgvector rows: :mod:`retrieval.vector_stores`).

The task (:func:`retrieval.tasks.index_job_task`) takes ids and calls :func:`index_job_run`,
which re-fetches everything through the tenant filter. Photos go through the engine in
batches; after each batch the job's progress is saved and pushed to the organisation's admins.

:func:`index_add`, :func:`index_remove` and :func:`index_rebuild` change the served vectors
in one transaction holding the library's row lock, so concurrent jobs serialise and a search
always reads one complete set (FAISS: a new file and a moved ``ImageLibrary.index_file``;
pgvector: rows, under PostgreSQL's MVCC). Vectors of another model version, or in another
store than the configured one, are never extended: the job then rebuilds them all at the
current version, in the configured store.
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
from retrieval import index_store, photos, vector_stores
from retrieval.models import ImageLibrary, IndexChunk, IndexJob, LibraryImage

if TYPE_CHECKING:
    from retrieval.engine.pipeline import Engine
    from retrieval.vector_stores import VectorStore

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
    ) + _chunks_recover(now=now or timezone.now())


def _chunks_recover(*, now: Any) -> list[int]:
    """Queue again the chunks whose worker stopped (the job ids they belong to)."""
    chunk_ids = job_leases.requeue_abandoned(
        IndexChunk,
        running=Q(status=IndexJob.Status.RUNNING),
        queued=Q(status=IndexJob.Status.QUEUED),
        now=now,
        enqueue=index_chunk_enqueue,
    )
    jobs = IndexChunk.objects.filter(pk__in=chunk_ids).values_list("job_id", flat=True)
    return sorted(set(jobs))


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
    if job.chunks.exists():  # split by an earlier run: queue again what is unfinished
        return _run_chunked(job, [])
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

    if len(ids) > chunk_size():
        return _run_chunked(job, ids)

    # An import extends the served index batch by batch (new photos become searchable at
    # once) unless that index is of another model version; a re-index always builds anew.
    incremental = job.kind == IndexJob.Kind.IMPORT and not resumed
    for batch_ids in _chunks(ids, batch_size()):
        failures, incremental = _index_batch(engine, library, batch_ids, version, incremental)
        job.done += len(batch_ids)
        # A long job cut short again and again (the task timeout, restarts) is not given up
        # while each run gets further: only runs dying where the last one did count.
        job.attempts = 1
        job.failed += len(failures)
        job.failures = job.failures + failures
        _job_save(job, on_progress)
    if not incremental:
        _rebuild_after(job, library, engine)
    return _job_finish(job, on_progress=on_progress)


def _rebuild_after(job: IndexJob, library: ImageLibrary, engine: Engine) -> None:
    """Serve the job's photos when they could not be added as they came (a re-index, another
    model version or store, a resumed run): rebuild every vector, or re-index the library."""
    if job.kind == IndexJob.Kind.IMPORT and _has_stale_photos(library, engine.model_version):
        # The served index is of another model version and so are photos outside this
        # job: a rebuild now would drop them. Re-index the whole library instead; the
        # old index keeps its version, so searches say it is being re-indexed meanwhile.
        library_reindex(library=library, user=job.created_by)
    else:
        index_rebuild(library=library, engine=engine, on_chunk=lambda: job_leases.beat(job))


def _index_batch(
    engine: Engine, library: ImageLibrary, batch_ids: list[int], version: str, incremental: bool
) -> tuple[list[dict[str, str]], bool]:
    """Embed the photos of ``batch_ids`` not indexed at ``version`` yet, mark them indexed
    and (``incremental``) add their vectors to the served ones; returns the failures and
    whether later batches may still be added (False: the job must rebuild at its end)."""
    images = LibraryImage.objects.for_tenant(library.tenant_id).filter(library=library)
    todo = [
        img
        for img in images.filter(pk__in=batch_ids)
        if not (img.status == LibraryImage.Status.INDEXED and img.model_version == version)
    ]
    embedded, vectors, failures = _embed(engine, library, todo, version)
    # A photo is marked indexed in the transaction that serves its vector (pgvector: the
    # same database). A rebuild running meanwhile that misses them is followed by this
    # add; a crash before it leaves them unmarked, to be embedded again by the next run.
    with transaction.atomic():
        _mark_indexed(library.tenant_id, embedded, version)
        if incremental and embedded:
            incremental = index_add(
                library=library, image_ids=embedded, vectors=vectors, model_version=version
            )
    return failures, incremental


# --- large jobs in chunks, any worker takes any chunk --------------------------------------


def chunk_size() -> int:
    return max(1, int(settings.PSBIR_INDEX_CHUNK_SIZE))


CHUNK_TASK_PATH = "retrieval.tasks.index_chunk_task"


def index_chunk_enqueue(chunk: IndexChunk) -> None:
    """Queue the chunk's task once the surrounding transaction commits (ids only)."""
    from django_q.tasks import async_task

    chunk_id, tenant_id, job_id = chunk.pk, chunk.tenant_id, chunk.job_id
    transaction.on_commit(
        lambda: async_task(
            CHUNK_TASK_PATH,
            chunk_id,
            tenant_id,
            task_name=f"index-job-{job_id}-chunk-{chunk_id}",
        )
    )


def _run_chunked(job: IndexJob, ids: list[int]) -> IndexJob:
    """Split the job into chunks (once) and queue those no live worker holds; the job is
    then carried by its chunks: their progress renews its lease, and the chunk that
    completes the last one finishes it (:func:`_finish_if_complete`)."""
    with transaction.atomic():
        if not job.chunks.exists():
            size = chunk_size()
            IndexChunk.objects.bulk_create(
                IndexChunk(
                    tenant_id=job.tenant_id,
                    job=job,
                    number=number,
                    image_ids=ids[start : start + size],
                )
                for number, start in enumerate(range(0, len(ids), size))
            )
        job.attempts = 1  # the planner; each chunk keeps its own count of runs
        _job_save(job)
        for chunk in job.chunks.exclude(status__in=_FINISHED):
            if not (chunk.status == IndexJob.Status.RUNNING and job_leases.is_held(chunk)):
                index_chunk_enqueue(chunk)
    return _finish_if_complete(job.pk, job.tenant_id) or job


_FINISHED = (IndexJob.Status.DONE, IndexJob.Status.FAILED)


def index_chunk_run(*, chunk_id: int, tenant_id: int) -> IndexChunk | None:
    """Index one chunk of a job (the chunk task): its photos in batches, each batch's
    progress saved on the chunk and summed on the job. Safe to run again: photos already
    indexed at the current model version are skipped; a delivery finding the chunk
    finished, or held by a live worker, does nothing."""
    from retrieval.engine.errors import ModelNotReadyError, WeightsMissingError
    from retrieval.engine_runtime import get_engine

    chunk = _claim_chunk(chunk_id, tenant_id)
    if chunk is None:
        return IndexChunk.objects.for_tenant(tenant_id).filter(pk=chunk_id).first()
    job = chunk.job
    try:
        try:
            engine = get_engine()
        except (WeightsMissingError, ModelNotReadyError) as exc:
            _chunk_fail(chunk, str(exc))
        else:
            _run_chunk(chunk, job, engine)
    except job_leases.LeaseLost:
        logger.warning("index chunk %s was taken over by another worker; this run stops", chunk_id)
        return None
    except Exception as exc:
        logger.exception("index chunk %s failed", chunk_id)
        _chunk_fail(chunk, f"Indexing stopped: {exc}")
        _finish_if_complete(job.pk, tenant_id)
        raise
    _finish_if_complete(job.pk, tenant_id)
    chunk.refresh_from_db()
    return chunk


def _run_chunk(chunk: IndexChunk, job: IndexJob, engine: Engine) -> None:
    library = ImageLibrary.objects.for_tenant(job.tenant_id).get(pk=job.library_id)
    version = engine.model_version
    chunk.done, chunk.failed, chunk.failures = 0, 0, []
    incremental = job.kind == IndexJob.Kind.IMPORT and chunk.added
    rejected = _rejected(job)
    for batch_ids in _chunks(list(chunk.image_ids), batch_size()):
        failures, incremental = _index_batch(engine, library, batch_ids, version, incremental)
        chunk.done += len(batch_ids)
        chunk.failed += len(failures)
        chunk.failures = chunk.failures + failures
        chunk.attempts = 1  # as a job's: only runs dying where the last one did count
        job_leases.beat(
            chunk,
            done=chunk.done,
            failed=chunk.failed,
            failures=chunk.failures,
            attempts=1,
            added=incremental,
        )
        _job_progress(job, rejected)
    chunk.status, chunk.finished_at, chunk.added = IndexJob.Status.DONE, timezone.now(), incremental
    job_leases.beat(chunk, status=chunk.status, finished_at=chunk.finished_at, added=chunk.added)


@transaction.atomic
def _claim_chunk(chunk_id: int, tenant_id: int) -> IndexChunk | None:
    chunk = (
        IndexChunk.objects.for_tenant(tenant_id)
        .select_for_update()
        .select_related("job")
        .filter(pk=chunk_id)
        .first()
    )
    if chunk is None or chunk.status in _FINISHED or chunk.job.status in _FINISHED:
        return None
    if chunk.status == IndexJob.Status.RUNNING and job_leases.is_held(chunk):
        return None  # a live worker runs it; this is a duplicate delivery
    if job_leases.exhausted(chunk):
        chunk.status, chunk.finished_at = IndexJob.Status.FAILED, timezone.now()
        chunk.failed = len(chunk.image_ids) - chunk.done + chunk.failed
        chunk.failures = chunk.failures + [
            {
                "name": f"{len(chunk.image_ids) - chunk.done} photo(s) of part {chunk.number + 1}",
                "error": f"The background worker stopped {chunk.attempts} times on them.",
            }
        ]
        chunk.save(update_fields=["status", "finished_at", "failed", "failures"])
        transaction.on_commit(lambda: _finish_if_complete(chunk.job_id, tenant_id))
        return None
    fields = job_leases.take(chunk)
    chunk.status = IndexJob.Status.RUNNING
    chunk.save(update_fields=[*fields, "status"])
    return chunk


def _chunk_fail(chunk: IndexChunk, message: str) -> None:
    left = len(chunk.image_ids) - chunk.done
    IndexChunk.objects.filter(pk=chunk.pk, lease_token=chunk.lease_token).update(
        status=IndexJob.Status.FAILED,
        finished_at=timezone.now(),
        failed=chunk.failed + left,
        failures=chunk.failures + [{"name": f"{left} photo(s)", "error": message[:300]}],
    )


def _rejected(job: IndexJob) -> int:
    """Uploads an import refused before the job ran (counted done and failed)."""
    return job.total - len(job.image_ids) if job.kind == IndexJob.Kind.IMPORT else 0


def _job_progress(job: IndexJob, rejected: int) -> None:
    """Sum the chunks' progress onto the job, renew its lease and tell the admins."""
    from django.db.models import Sum

    totals = job.chunks.aggregate(done=Sum("done"), failed=Sum("failed"))
    job.done = rejected + (totals["done"] or 0)
    job.failed = rejected + (totals["failed"] or 0)
    job.heartbeat_at = timezone.now()
    IndexJob.objects.filter(pk=job.pk).update(
        done=job.done, failed=job.failed, heartbeat_at=job.heartbeat_at
    )
    job_publish(job)


def _finish_if_complete(job_id: int, tenant_id: int) -> IndexJob | None:
    """Finish the job once every chunk is: their failures gathered, the vectors rebuilt when
    some could not be added as they came. Returns the finished job (None: not yet)."""
    from retrieval.engine.errors import ModelNotReadyError, WeightsMissingError
    from retrieval.engine_runtime import get_engine

    with transaction.atomic():
        job = IndexJob.objects.for_tenant(tenant_id).select_for_update().filter(pk=job_id).first()
        if job is None or job.status in _FINISHED:
            return None
        chunks = list(job.chunks.order_by("number"))
        if not chunks or any(c.status not in _FINISHED for c in chunks):
            return None
        rejected = _rejected(job)
        job.done = rejected + sum(c.done for c in chunks)
        job.failed = rejected + sum(c.failed for c in chunks)
        job.failures = job.failures[:rejected] + [f for c in chunks for f in c.failures]
        if job.kind == IndexJob.Kind.REINDEX or not all(c.added for c in chunks):
            try:
                engine = get_engine()
            except (WeightsMissingError, ModelNotReadyError) as exc:
                return _job_finish(job, message=str(exc))
            library = ImageLibrary.objects.for_tenant(tenant_id).get(pk=job.library_id)
            _rebuild_after(job, library, engine)
        # A chunk that stopped (no model, a worker dying on it again and again) stops the
        # job as a single run would: its message says why; what was indexed stays served.
        stopped = [c for c in chunks if c.status == IndexJob.Status.FAILED and c.failures]
        return _job_finish(job, message=stopped[0].failures[-1]["error"] if stopped else "")


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
    maps = np.stack([np.asarray(e.features) for e in embeddings])
    index_store.feature_store(library, version).put(ids, maps)
    if engine.has_pooled_features:  # what personal projection heads re-score from
        pooled = engine.pooled_features(maps)
        index_store.pooled_store(library, version).put(ids, pooled[:, :, None, None])
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


def _record(library: ImageLibrary, store: VectorStore, *, model_version: str, size: int) -> None:
    """Save what the (locked) library's served vectors now are; vectors a store the library
    used before still holds are dropped (the configured store changed: a re-index moved them)."""
    if library.index_engine and library.index_engine != store.name:
        vector_stores.store_named(library.index_engine).drop(library)
    library.model_version = model_version
    library.index_size = size
    library.index_engine = store.name
    library.indexed_at = timezone.now()
    library.save(
        update_fields=["index_file", "model_version", "index_size", "index_engine", "indexed_at"]
    )


def index_add(
    *, library: ImageLibrary, image_ids: list[int], vectors: np.ndarray, model_version: str
) -> bool:
    """Add (or replace) served vectors; False when the library's are of another model
    version or in another store (the job then rebuilds them all)."""
    store = vector_stores.active_store()
    with transaction.atomic():
        locked = _locked(library)
        if locked.index_engine and (
            locked.model_version != model_version or locked.index_engine != store.name
        ):
            return False
        size = store.write(
            locked,
            np.asarray(image_ids, dtype=np.int64),
            vectors,
            model_version=model_version,
            replace_all=False,
        )
        _record(locked, store, model_version=model_version, size=size)
    return True


def index_replace(
    *, library: ImageLibrary, image_ids: np.ndarray, vectors: np.ndarray, model_version: str
) -> int:
    """Make these the library's only served vectors, in the configured store (a bulk load
    of vectors computed elsewhere, e.g. ``scale_benchmark``); returns how many it serves."""
    store = vector_stores.active_store()
    with transaction.atomic():
        locked = _locked(library)
        size = store.write(
            locked,
            np.asarray(image_ids, dtype=np.int64),
            np.asarray(vectors, dtype=np.float32),
            model_version=model_version,
            replace_all=True,
        )
        _record(locked, store, model_version=model_version, size=size)
    library.refresh_from_db()
    return size


def index_remove(*, library: ImageLibrary, image_ids: list[int]) -> None:
    """Take photos out of the served vectors (in the caller's transaction, if any)."""
    with transaction.atomic():
        locked = _locked(library)
        if not locked.index_engine:
            return
        store = vector_stores.store_named(locked.index_engine)
        size = store.remove(locked, np.asarray(image_ids, dtype=np.int64))
        locked.index_size = size
        locked.save(update_fields=["index_file", "index_size"])


def index_rebuild(
    *, library: ImageLibrary, engine: Engine, on_chunk: Callable[[], None] | None = None
) -> int:
    """Build the library's vectors anew from its cached features at the engine's version;
    swap them in.

    Photos whose pooled features are kept get the head's projection of them (a matrix
    product: a million photos in about a minute); others the whole head over their trunk
    maps. This runs outside any transaction (it is the slow part, and a job's lease must be
    renewed meanwhile: ``on_chunk`` after each chunk); under the library's lock only photos
    indexed since are added, so an import finishing meanwhile is not dropped. Photos whose
    cached features are missing are set back to pending with a message. Returns the number
    of vectors served.
    """
    version = engine.model_version
    store = index_store.feature_store(library, version)
    pooled_store = (
        index_store.pooled_store(library, version) if engine.has_pooled_features else None
    )
    pooled_ids = set(pooled_store.ids().tolist()) if pooled_store is not None else set()
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
        from_pooled = [i for i in ids if i in pooled_ids]
        for chunk in _chunks(from_pooled, 4096):
            pooled = pooled_store.get(chunk).reshape(len(chunk), -1)
            vectors.update(zip(chunk, engine.vectors_from_pooled(pooled), strict=True))
            if on_chunk is not None:
                on_chunk()
        for chunk in _chunks([i for i in ids if i not in pooled_ids], 256):
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
        served_by = vector_stores.active_store()
        size = served_by.write(
            locked,
            np.asarray(ids, dtype=np.int64),
            np.stack([vectors[i] for i in ids]) if ids else np.zeros((0, 512), np.float32),
            model_version=version,
            replace_all=True,
        )
        _record(locked, served_by, model_version=version, size=size)
    return size


def features_delete(*, library: ImageLibrary, image_ids: list[int]) -> None:
    """Drop cached trunk maps of removed photos, for every model version on disk."""
    root = index_store.feature_root(library)
    if not root.exists():
        return
    from retrieval.engine.features import FeatureStore

    for version_dir in root.iterdir():
        if version_dir.is_dir():
            FeatureStore(version_dir).delete(image_ids)
