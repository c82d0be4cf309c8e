"""Large index jobs in chunks (PSBIR_INDEX_CHUNK_SIZE): any worker takes any chunk, a chunk
whose worker died is taken over, and the job finishes once, with every photo served once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from retrieval import vector_stores
from retrieval.models import ImageLibrary, IndexChunk, IndexJob, LibraryImage
from retrieval.services import images as image_services
from retrieval.services import indexing
from tests.retrieval.fakes import SHAPES, shape_png

pytestmark = pytest.mark.django_db


class Killed(BaseException):
    """The worker process vanished (SIGKILL): nothing of it runs any more."""


@pytest.fixture
def small_chunks(settings: Any) -> None:
    settings.PSBIR_INDEX_CHUNK_SIZE = 4
    settings.PSBIR_INDEX_BATCH_SIZE = 2


def _import(library: ImageLibrary, n: int = 10) -> IndexJob:
    items = [
        image_services.UploadItem(
            name=f"{SHAPES[i % 5]}-{i}.png", data=shape_png(SHAPES[i % 5], seed=i)
        )
        for i in range(n)
    ]
    job = image_services.images_import(library=library, items=items, enqueue=False).job
    return indexing.index_job_run(job_id=job.pk, tenant_id=library.tenant_id)


def _served_once(library: ImageLibrary) -> list[int]:
    library.refresh_from_db()
    served = vector_stores.active_store().ids(library).tolist()
    assert len(served) == len(set(served)) == library.index_size  # no photo twice
    return sorted(served)


def _photos(library: ImageLibrary) -> list[int]:
    return sorted(LibraryImage.objects.filter(library=library).values_list("pk", flat=True))


def test_a_large_import_is_split_and_chunks_run_in_any_order(
    make_library: Any, tenant_a: Any, fake_engine: Any, small_chunks: None
):
    library = make_library(tenant_a)
    job = _import(library)
    chunks = list(IndexChunk.objects.filter(job=job).order_by("number"))
    assert [len(c.image_ids) for c in chunks] == [4, 4, 2]
    assert sorted(i for c in chunks for i in c.image_ids) == _photos(library)
    assert job.status == IndexJob.Status.RUNNING and fake_engine.photos_embedded == 0

    for number, expected_done in ((2, 2), (0, 6)):  # as parallel workers would, any order
        indexing.index_chunk_run(chunk_id=chunks[number].pk, tenant_id=tenant_a.pk)
        job.refresh_from_db()
        assert job.status == IndexJob.Status.RUNNING and job.done == expected_done
    # New photos are searchable as each chunk's batches land, before the job is done.
    assert len(_served_once(library)) == 6
    indexing.index_chunk_run(chunk_id=chunks[1].pk, tenant_id=tenant_a.pk)
    job.refresh_from_db()
    assert job.status == IndexJob.Status.DONE and (job.done, job.failed) == (10, 0)
    assert _served_once(library) == _photos(library)
    assert fake_engine.photos_embedded == 10
    # A late duplicate delivery of a chunk does nothing.
    indexing.index_chunk_run(chunk_id=chunks[0].pk, tenant_id=tenant_a.pk)
    assert fake_engine.photos_embedded == 10


def test_a_chunk_whose_worker_died_is_taken_over_nothing_twice_nothing_lost(
    make_library: Any,
    tenant_a: Any,
    fake_engine: Any,
    small_chunks: None,
    monkeypatch: Any,
    django_capture_on_commit_callbacks: Any,
):
    library = make_library(tenant_a)
    job = _import(library)
    chunks = list(IndexChunk.objects.filter(job=job).order_by("number"))
    indexing.index_chunk_run(chunk_id=chunks[0].pk, tenant_id=tenant_a.pk)

    real_progress = indexing._job_progress

    def dies_after_one_batch(job: IndexJob, rejected: int) -> None:
        real_progress(job, rejected)
        raise Killed

    monkeypatch.setattr(indexing, "_job_progress", dies_after_one_batch)
    with pytest.raises(Killed):
        indexing.index_chunk_run(chunk_id=chunks[1].pk, tenant_id=tenant_a.pk)
    monkeypatch.setattr(indexing, "_job_progress", real_progress)
    dead = IndexChunk.objects.get(pk=chunks[1].pk)
    assert dead.status == IndexJob.Status.RUNNING and dead.done == 2  # one batch of two
    assert fake_engine.photos_embedded == 6

    # While its lease holds, a second delivery leaves it alone.
    assert indexing.index_chunk_run(chunk_id=dead.pk, tenant_id=tenant_a.pk).status == "running"
    # The schedule's sweep, once the lease ran out, sends it again; another worker takes it.
    later = timezone.now() + timedelta(seconds=indexing.job_leases.lease_seconds() + 1)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert job.pk in indexing.index_jobs_recover(now=later)
    assert queued  # the chunk's task
    IndexChunk.objects.filter(pk=dead.pk).update(heartbeat_at=later - timedelta(days=1))
    taken_over = indexing.index_chunk_run(chunk_id=dead.pk, tenant_id=tenant_a.pk)
    assert taken_over.status == IndexJob.Status.DONE and taken_over.attempts == 1
    indexing.index_chunk_run(chunk_id=chunks[2].pk, tenant_id=tenant_a.pk)

    job.refresh_from_db()
    assert job.status == IndexJob.Status.DONE and (job.done, job.failed) == (10, 0)
    assert _served_once(library) == _photos(library)
    # The dead worker's saved batch was not embedded again: only the batch in flight would be.
    assert fake_engine.photos_embedded == 10
    assert set(LibraryImage.objects.filter(library=library).values_list("status", flat=True)) == {
        LibraryImage.Status.INDEXED
    }


def test_a_reindex_in_chunks_keeps_the_old_vectors_until_the_last_chunk(
    indexed_library: ImageLibrary, fake_engine: Any, small_chunks: None
):
    library = indexed_library
    before = _served_once(library)
    fake_engine.model_version = "fake-2"
    job = indexing.library_reindex(library=library, enqueue=False)
    job = indexing.index_job_run(job_id=job.pk, tenant_id=library.tenant_id)
    chunks = list(IndexChunk.objects.filter(job=job).order_by("number"))
    assert len(chunks) == 3
    for chunk in chunks[:2]:
        indexing.index_chunk_run(chunk_id=chunk.pk, tenant_id=library.tenant_id)
        library.refresh_from_db()
        assert library.model_version == "fake-1" and _served_once(library) == before
    indexing.index_chunk_run(chunk_id=chunks[2].pk, tenant_id=library.tenant_id)
    library.refresh_from_db()
    job.refresh_from_db()
    assert job.status == IndexJob.Status.DONE
    assert library.model_version == "fake-2" and _served_once(library) == _photos(library)


def test_a_chunk_without_the_model_stops_the_job_with_the_reason(
    make_library: Any, tenant_a: Any, fake_engine: Any, small_chunks: None, monkeypatch: Any
):
    from retrieval import engine_runtime
    from retrieval.engine.errors import ModelNotReadyError

    library = make_library(tenant_a)
    job = _import(library, n=6)
    chunks = list(IndexChunk.objects.filter(job=job).order_by("number"))
    indexing.index_chunk_run(chunk_id=chunks[0].pk, tenant_id=tenant_a.pk)

    def no_model() -> None:
        raise ModelNotReadyError("The general head is not installed.")

    monkeypatch.setattr(engine_runtime, "get_engine", no_model)
    indexing.index_chunk_run(chunk_id=chunks[1].pk, tenant_id=tenant_a.pk)
    job.refresh_from_db()
    assert job.status == IndexJob.Status.FAILED
    assert "not installed" in job.message and (job.done, job.failed) == (4, 2)
    assert len(_served_once(library)) == 4  # what was indexed stays served
