"""Import and index jobs: batches with bad files, edge maps, conv5 cache, index, progress."""

from __future__ import annotations

import os
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from psbir_site.models import OutboxEvent
from retrieval import index_store, vector_stores
from retrieval.models import IndexJob, LibraryImage
from retrieval.services import images as image_services
from retrieval.services import indexing
from tests.retrieval.conftest import add_shapes
from tests.retrieval.fakes import shape_png

pytestmark = pytest.mark.django_db


def _items(*pairs):
    return [image_services.UploadItem(name=name, data=data) for name, data in pairs]


def test_broken_file_is_refused_and_the_rest_of_the_batch_is_indexed(
    make_library, tenant_a, fake_engine, q_sync, run_on_commit
):
    library = make_library(tenant_a)
    items = _items(
        ("circle.png", shape_png("circle")),
        ("broken.jpg", b"\xff\xd8\xff\xe0 this is not really a jpeg"),
        ("notes.txt", b"hello"),
        ("square.png", shape_png("square")),
    )
    with run_on_commit():
        outcome = image_services.images_import(library=library, items=items)

    job = IndexJob.objects.get(pk=outcome.job.pk)
    assert job.status == IndexJob.Status.DONE
    assert (job.total, job.done, job.failed) == (4, 4, 2)
    assert [f["name"] for f in job.failures] == ["broken.jpg", "notes.txt"]
    assert all(f["error"] for f in job.failures)
    images = LibraryImage.objects.for_tenant(tenant_a).filter(library=library)
    assert sorted(images.values_list("original_name", flat=True)) == ["circle.png", "square.png"]
    for image in images:
        assert image.status == LibraryImage.Status.INDEXED
        assert image.model_version == fake_engine.model_version
        assert image.edge_map and image.thumbnail
    library.refresh_from_db()
    assert library.model_version == fake_engine.model_version
    served = vector_stores.active_store().ids(library)
    assert sorted(served.tolist()) == sorted(images.values_list("pk", flat=True))
    store = index_store.feature_store(library, fake_engine.model_version)
    assert store.get(served).shape == (2, 512, 8, 8)


def test_progress_is_pushed_to_the_tenant_admins_group(
    make_library, tenant_a, fake_engine, q_sync, run_on_commit, settings
):
    settings.PSBIR_INDEX_BATCH_SIZE = 2
    library = make_library(tenant_a)
    items = _items(*[(f"c{i}.png", shape_png("circle", seed=i)) for i in range(5)])
    with run_on_commit():
        image_services.images_import(library=library, items=items)
    events = [
        e.payload
        for e in OutboxEvent.objects.filter(group=f"tenant-{tenant_a.pk}-admins")
        if e.payload["event"] == "index_progress"
    ]
    done_counts = [e["done"] for e in events if e["status"] == "running"]
    assert done_counts == sorted(done_counts) and 5 in done_counts
    assert len([d for d in done_counts if d > 0]) == 3  # three batches of at most 2
    assert events[-1]["status"] == "done" and events[-1]["library_id"] == library.pk
    assert not OutboxEvent.objects.exclude(group=f"tenant-{tenant_a.pk}-admins").exists()


def test_a_batch_whose_engine_call_fails_on_one_photo_keeps_the_others(
    make_library, tenant_a, fake_engine
):
    library = make_library(tenant_a)
    outcome = image_services.images_import(
        library=library,
        items=_items(("a.png", shape_png("circle")), ("b.png", shape_png("square"))),
        enqueue=False,
    )
    real = fake_engine.embed_photos
    bad_id = outcome.added[1].pk

    def picky(images):
        if len(images) > 1:
            raise ValueError("one of these is unusable")
        if images[0].shape[0] == 64:  # the second photo, made small below
            raise ValueError("this photo is unusable")
        return real(images)

    fake_engine.embed_photos = picky
    # Make the second stored photo distinguishable by size.
    image = LibraryImage.objects.get(pk=bad_id)
    image.photo.storage.delete(image.photo.name)
    image.photo.storage.save(image.photo.name, _small_png())
    job = indexing.index_job_run(job_id=outcome.job.pk, tenant_id=tenant_a.pk)
    assert job.status == IndexJob.Status.DONE
    assert job.failed == 1 and job.failures[0]["error"] == "this photo is unusable"
    assert LibraryImage.objects.get(pk=bad_id).status == LibraryImage.Status.FAILED
    library.refresh_from_db()
    assert library.index_size == 1


def _small_png():
    from django.core.files.base import ContentFile

    return ContentFile(shape_png("circle", size=64))


def test_duplicate_photo_is_refused(make_library, tenant_a, fake_engine):
    library = make_library(tenant_a)
    data = shape_png("circle")
    outcome = image_services.images_import(
        library=library, items=_items(("a.png", data), ("b.png", data)), enqueue=False
    )
    assert len(outcome.added) == 1
    assert "already in this library" in outcome.failures[0]["error"]


def test_job_of_another_tenant_is_not_run(make_library, tenant_a, tenant_b, fake_engine):
    library = make_library(tenant_a)
    outcome = image_services.images_import(
        library=library, items=_items(("a.png", shape_png("circle"))), enqueue=False
    )
    assert indexing.index_job_run(job_id=outcome.job.pk, tenant_id=tenant_b.pk) is None
    assert IndexJob.objects.get(pk=outcome.job.pk).status == IndexJob.Status.QUEUED
    assert fake_engine.photos_embedded == 0


def test_missing_model_fails_the_job_with_the_install_hint(make_library, tenant_a, monkeypatch):
    from retrieval import engine_runtime
    from retrieval.engine.errors import ModelNotReadyError

    def not_ready():
        raise ModelNotReadyError("The general conv6 head does not exist yet.")

    monkeypatch.setattr(engine_runtime, "get_engine", not_ready)
    library = make_library(tenant_a)
    outcome = image_services.images_import(
        library=library, items=_items(("a.png", shape_png("circle"))), enqueue=False
    )
    job = indexing.index_job_run(job_id=outcome.job.pk, tenant_id=tenant_a.pk)
    assert job.status == IndexJob.Status.FAILED
    assert "conv6 head" in job.message


def test_crashed_job_resumes_without_embedding_twice(make_library, tenant_a, fake_engine, settings):
    settings.PSBIR_INDEX_BATCH_SIZE = 2
    library = make_library(tenant_a)
    outcome = image_services.images_import(
        library=library,
        items=_items(*[(f"s{i}.png", shape_png("square", seed=i)) for i in range(4)]),
        enqueue=False,
    )
    fake_engine.fail_on_call = 2  # the second batch crashes
    with pytest.raises(RuntimeError):
        indexing.index_job_run(job_id=outcome.job.pk, tenant_id=tenant_a.pk)
    job = IndexJob.objects.get(pk=outcome.job.pk)
    assert job.status == IndexJob.Status.FAILED and "simulated crash" in job.message
    assert fake_engine.photos_embedded == 2

    # As if the worker had died mid-job instead: running, its lease long expired. Another
    # delivery of the task picks it up and finishes it.
    job.status = IndexJob.Status.RUNNING
    job.heartbeat_at = timezone.now() - timedelta(seconds=settings.PSBIR_JOB_LEASE_SECONDS + 1)
    job.save()
    fake_engine.fail_on_call = None
    job = indexing.index_job_run(job_id=job.pk, tenant_id=tenant_a.pk)
    assert job.status == IndexJob.Status.DONE and (job.done, job.failed) == (4, 0)
    assert fake_engine.photos_embedded == 4  # the first batch was not embedded again
    library.refresh_from_db()
    assert library.index_size == 4


def test_deleting_a_photo_takes_it_out_of_index_and_cache(
    indexed_library, fake_engine, run_on_commit
):
    library = indexed_library
    victim = LibraryImage.objects.for_tenant(library.tenant_id).filter(library=library).first()
    old_file = library.index_file
    with run_on_commit():
        image_services.image_delete(image=victim)
    library.refresh_from_db()
    store = vector_stores.active_store()
    if store.name == "faiss":  # a new file; the old one goes once the change committed
        assert library.index_file != old_file
        assert not index_store.index_path(old_file).exists()
    assert victim.pk not in store.ids(library)
    assert library.index_size == len(store.ids(library)) == 9
    assert victim.pk not in index_store.feature_store(library, fake_engine.model_version)
    assert not LibraryImage.objects.filter(pk=victim.pk).exists()


def test_deleting_a_library_removes_its_files(indexed_library, retrieval_dirs, run_on_commit):
    from retrieval.services.libraries import library_delete

    library = indexed_library
    photo_path = LibraryImage.objects.filter(library=library).first().photo.path
    with run_on_commit():
        library_delete(library=library)
    assert not np.any([p.is_file() for p in (retrieval_dirs / "indexes").rglob("*")])
    assert not np.any([p.is_file() for p in (retrieval_dirs / "features").rglob("*")])
    assert not os.path.exists(photo_path)


def test_add_shapes_helper_indexes_everything(indexed_library):
    assert indexed_library.index_size == 10
    assert (
        add_shapes(indexed_library, shapes=("cross",), per_shape=1)
        .failures[0]["error"]
        .startswith("The same photo is already")
    )
