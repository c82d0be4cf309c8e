"""Re-indexing builds a new index file while the old one keeps serving, then swaps."""

from __future__ import annotations

import pytest

from retrieval import index_store, vector_stores
from retrieval.models import IndexJob, LibraryImage
from retrieval.services import images as image_services
from retrieval.services import indexing
from tests.retrieval.fakes import shape_png
from tests.searching import post_search

pytestmark = pytest.mark.django_db


def _search(client, library):
    data = post_search(client, libraries=[library.pk], top_k=5)
    return [r["image_id"] for r in data["results"]]


def test_reindex_swap_keeps_serving(
    api_client_a, indexed_library, fake_engine, settings, run_on_commit
):
    settings.PSBIR_INDEX_BATCH_SIZE = 3
    library = indexed_library
    before = _search(api_client_a, library)
    built_at = library.indexed_at
    seen_during = []

    def search_while_building(job):
        # Mid-way through the rebuild the library still points at the old, complete file.
        if job.status == IndexJob.Status.RUNNING and 0 < job.done < job.total:
            library.refresh_from_db()
            seen_during.append(
                (library.indexed_at, library.index_size, _search(api_client_a, library))
            )

    job = indexing.library_reindex(library=library, enqueue=False)
    # Re-index with the same photos re-embedded: force it by marking them stale.
    LibraryImage.objects.filter(library=library).update(model_version="")
    with run_on_commit():
        job = indexing.index_job_run(
            job_id=job.pk, tenant_id=library.tenant_id, on_progress=search_while_building
        )

    assert job.status == IndexJob.Status.DONE and job.done == job.total == 10
    assert len(seen_during) == 3  # after batches 1-3 of 4
    for indexed_at, size, results in seen_during:
        assert indexed_at == built_at and size == 10
        assert results == before
    old_file = library.index_file
    library.refresh_from_db()
    assert library.indexed_at > built_at
    if vector_stores.active_store().name == "faiss":
        assert library.index_file != old_file
        assert not index_store.index_path(old_file).exists()  # removed once the swap committed
    assert library.index_size == 10
    assert _search(api_client_a, library) == before
    assert fake_engine.photos_embedded == 20  # 10 at import, 10 again for the re-index


def test_reindex_after_a_model_change_rebuilds_at_the_new_version(indexed_library, fake_engine):
    library = indexed_library
    fake_engine.model_version = "fake-2"
    job = indexing.library_reindex(library=library, enqueue=False)
    indexing.index_job_run(job_id=job.pk, tenant_id=library.tenant_id)
    library.refresh_from_db()
    assert library.model_version == "fake-2"
    store = vector_stores.active_store()
    assert len(store.ids(library)) == library.index_size == 10
    if store.name == "faiss":
        assert "fake-2" in library.index_file
        index = index_store.read_index(library.index_file)
        assert index.metadata["model_version"] == "fake-2" and len(index) == 10
    assert len(index_store.feature_store(library, "fake-2")) == 10


def test_import_into_a_stale_library_reindexes_instead_of_mixing_versions(
    indexed_library, fake_engine
):
    library = indexed_library
    built_at = library.indexed_at
    fake_engine.model_version = "fake-2"
    outcome = image_services.images_import(
        library=library,
        items=[image_services.UploadItem(name="new.png", data=shape_png("cross", seed=9))],
        enqueue=False,
    )
    indexing.index_job_run(job_id=outcome.job.pk, tenant_id=library.tenant_id)
    library.refresh_from_db()
    # The new photo's fake-2 vector was not added to the fake-1 index, and the index was not
    # rebuilt without the ten fake-1 photos: a re-index of the whole library was started.
    assert (library.indexed_at, library.model_version) == (built_at, "fake-1")
    reindex = IndexJob.objects.get(library=library, kind=IndexJob.Kind.REINDEX)
    assert reindex.status == IndexJob.Status.QUEUED
    indexing.index_job_run(job_id=reindex.pk, tenant_id=library.tenant_id)
    library.refresh_from_db()
    assert library.model_version == "fake-2" and library.index_size == 11
    assert fake_engine.photos_embedded == 10 + 1 + 10  # the new photo is not embedded twice


def test_second_reindex_request_returns_the_running_job(indexed_library, fake_engine):
    first = indexing.library_reindex(library=indexed_library, enqueue=False)
    second = indexing.library_reindex(library=indexed_library, enqueue=False)
    assert first.pk == second.pk


def test_reindex_api_is_admin_only_and_starts_a_job(
    api_client_a, api_client_admin_a, indexed_library, fake_engine, q_sync, run_on_commit
):
    url = f"/api/libraries/{indexed_library.pk}/reindex/"
    assert api_client_a.post(url).status_code == 403
    with run_on_commit():
        response = api_client_admin_a.post(url)
    assert response.status_code == 202
    job = api_client_admin_a.get(f"/api/jobs/{response.json()['id']}/").json()
    assert job["kind"] == "reindex" and job["status"] == "done" and job["done"] == 10
