"""Several worker processes on one queue (the scale-out shape): jobs spread over them, none
runs twice, and concurrent jobs on one library (an import during its re-index) lose nothing.

Runs on whatever broker the environment selects: the ORM broker by default, Redis in
``scripts/test_scaleout.sh``.
"""

from __future__ import annotations

import re

import pytest

from retrieval import index_store, vector_stores
from retrieval.models import IndexJob, LibraryImage
from retrieval.services import images as image_services
from retrieval.services import indexing
from tests.hardening.workers import killable_worker, wait_or_fail, worker_log
from tests.retrieval.conftest import add_shapes
from tests.retrieval.fakes import shape_png


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.django_db(transaction=True)
def test_two_workers_share_the_jobs_and_run_each_once(
    indexed_library, make_library, tenant_b, fake_engine, short_lease
):
    library_a = indexed_library
    library_b = make_library(tenant_b, name="Other shapes")
    add_shapes(library_b)
    env = {
        "PSBIR_FAKE_MODEL_VERSION": "fake-2",  # every photo is embedded again: real work
        "PSBIR_INDEX_BATCH_SIZE": "1",
        "PSBIR_FAKE_ENGINE_DELAY": "0.4",
        "PSBIR_Q_WORKERS": "1",
    }
    jobs: list[IndexJob] = []

    def all_finished() -> bool:
        states = IndexJob.objects.filter(pk__in=[j.pk for j in jobs]).values_list(
            "status", flat=True
        )
        return all(s in (IndexJob.Status.DONE, IndexJob.Status.FAILED) for s in states)

    with killable_worker(**env) as first, killable_worker(**env) as second:
        # Both clusters polling first, so neither finds the whole queue to itself.
        wait_or_fail(
            lambda: all("running." in worker_log(w) for w in (first, second)),
            workers=[first, second],
            what="workers did not start",
            timeout=90,
        )
        # A cluster holds up to three tasks at once (one running, one in its worker queue,
        # one in its pusher), so five jobs cannot all go to one of them.
        jobs += [indexing.library_reindex(library=lib) for lib in (library_a, library_b)]
        imports = ((library_a, (40, 41, 42)), (library_b, (43, 44)), (library_a, (45,)))
        for library, seeds in imports:
            items = [
                image_services.UploadItem(
                    name=f"new-{seed}.png", data=shape_png("triangle", seed=seed)
                )
                for seed in seeds
            ]
            jobs.append(image_services.images_import(library=library, items=items).job)
        wait_or_fail(
            all_finished, workers=[first, second], what="jobs unfinished", timeout=150, interval=0.5
        )
        logs = [worker_log(first, tail=200_000), worker_log(second, tail=200_000)]

    for job in IndexJob.objects.filter(pk__in=[j.pk for j in jobs]):
        assert job.status == IndexJob.Status.DONE, job.message
        assert job.attempts == 1, f"job {job.pk} was run {job.attempts} times"
        assert job.failed == 0 and job.done == job.total
    # Each worker took jobs from the queue, and no task went to both.
    taken = [set(re.findall(r"processing (index-job-\d+)", log)) for log in logs]
    assert all(taken), f"one worker did nothing: {taken}\n{logs[0][-3000:]}\n---\n{logs[1][-3000:]}"
    assert not taken[0] & taken[1], f"a task was handed to both workers: {taken}"

    for library in (library_a, library_b):
        library.refresh_from_db()
        photos = sorted(LibraryImage.objects.filter(library=library).values_list("pk", flat=True))
        assert library.model_version == "fake-2"
        # The imports that ran beside the re-index of the same library are in the index.
        store = vector_stores.active_store()
        assert sorted(store.ids(library).tolist()) == photos
        if store.name == "faiss":  # and no file of a superseded index is left behind
            folder = index_store.index_path(library.index_file).parent
            assert sorted(folder.glob("*.faiss")) == [index_store.index_path(library.index_file)]
    assert library_a.index_size == 5 * 2 + 4  # the shapes it had, and the 4 imported
    assert library_b.index_size == 5 * 2 + 2
