"""Indexing driven by a real django-q2 worker process, with the real engine (shipped head)."""

from __future__ import annotations

import pytest

from psbir_site.events import tenant_admin_group
from retrieval import engine_runtime, index_store, vector_stores
from retrieval.models import IndexJob, LibraryImage
from retrieval.services import images as image_services
from tests.processes import GroupListener, wait_until, worker_process
from tests.retrieval.fakes import circle_strokes, shape_png


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_indexes_an_upload_and_the_web_process_searches_it(
    tenant_a, make_library, api_client_a
):
    library = make_library(tenant_a)
    items = [
        image_services.UploadItem(name="circle.png", data=shape_png("circle", size=160)),
        image_services.UploadItem(name="square.png", data=shape_png("square", size=160)),
        image_services.UploadItem(name="cross.png", data=shape_png("cross", size=160)),
        image_services.UploadItem(name="broken.png", data=b"\x89PNG\r\n\x1a\n not really"),
    ]
    # Committed at once (transactional test): the task is now in the ORM broker's queue.
    outcome = image_services.images_import(library=library, items=items)
    job_id = outcome.job.pk
    assert IndexJob.objects.get(pk=job_id).status == IndexJob.Status.QUEUED

    def finished() -> bool:
        return IndexJob.objects.get(pk=job_id).status in (
            IndexJob.Status.DONE,
            IndexJob.Status.FAILED,
        )

    listener = GroupListener(tenant_admin_group(tenant_a.pk))
    with worker_process(PSBIR_DEVICE="cpu", OMP_NUM_THREADS="1") as worker:
        done = wait_until(finished, timeout=240, interval=0.5)
        if not done:
            worker.terminate()
        log = "" if done else worker.communicate(timeout=30)[0]
    assert done, f"the worker did not finish the job; its log:\n{log[-4000:]}"

    job = IndexJob.objects.get(pk=job_id)
    assert job.status == IndexJob.Status.DONE, job.message
    assert (job.total, job.done, job.failed) == (4, 4, 1)
    assert job.failures[0]["name"] == "broken.png"
    images = list(LibraryImage.objects.for_tenant(tenant_a).filter(library=library))
    assert {i.status for i in images} == {LibraryImage.Status.INDEXED}
    # The shipped trunk takes RGB photos: no edge map is computed or stored.
    assert not any(i.edge_map for i in images)
    library.refresh_from_db()
    version = library.model_version
    assert version.startswith("g")
    served = vector_stores.active_store().ids(library)
    assert sorted(served.tolist()) == sorted(i.pk for i in images)
    assert len(index_store.feature_store(library, version)) == 3
    assert any(message.get("status") == "done" for message in listener.messages())

    # This (web) process builds the same engine from settings: same model version, and the
    # worker's index answers its query.
    engine_runtime.set_engine(None)
    try:
        response = api_client_a.post(
            "/api/search/", {"strokes": circle_strokes(), "top_k": 3}, format="json"
        )
        assert response.status_code == 201, response.json()
        assert engine_runtime.get_engine().model_version == version
        results = response.json()["results"]
        assert len(results) == 3
        assert [r["distance"] for r in results] == sorted(r["distance"] for r in results)
    finally:
        engine_runtime.set_engine(None)
