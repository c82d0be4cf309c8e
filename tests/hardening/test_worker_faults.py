"""Faults: a real django-q2 worker killed with SIGKILL mid-job, and a disk that fills up.

Each kill test: the job is caught half-way, the whole worker process group is SIGKILLed (no
clean-up code runs), the previous index / head keeps serving and no partial file is used.
Once the job's lease has run out, the scheduler's sweep queues it again (the test calls the
sweep the schedule runs every minute) and a fresh worker completes it. The same on the ORM
and the Redis broker: neither re-delivery by django-q2 is waited for.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from personalization import head_files, ranking, selectors
from personalization.models import PersonalHead, TrainingJob
from personalization.services import training
from retrieval import index_store, vector_stores
from retrieval.models import IndexJob, LibraryImage
from retrieval.services import indexing
from tests.hardening.workers import (
    kill_group,
    killable_worker,
    sweep_until_requeued,
    wait_or_fail,
)
from tests.retrieval.fakes import circle_strokes


def _search_ids(client: Any) -> list[int]:
    response = client.post("/api/search/", {"strokes": circle_strokes(), "top_k": 5}, format="json")
    assert response.status_code == 201, response.content[:300]
    return [r["image_id"] for r in response.json()["results"]]


def _faiss_files(library: Any) -> list[Path]:
    folder = Path(index_store.index_path(library.index_file)).parent
    return sorted(folder.glob("*.faiss"))


# --- indexing ----------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_reindex_old_index_serves_then_job_completes(
    indexed_library, fake_engine, api_client_a, short_lease
):
    library = indexed_library
    old_file, total, built_at = library.index_file, library.index_size, library.indexed_at
    faiss = vector_stores.active_store().name == "faiss"
    served_before = _search_ids(api_client_a)
    job = indexing.library_reindex(library=library)  # committed: the task is in the queue

    def half_done() -> bool:
        row = IndexJob.objects.get(pk=job.pk)
        return row.status == IndexJob.Status.RUNNING and 2 <= row.done < row.total

    # The worker runs a new model version, so the re-index must embed every photo again
    # (as after a model upgrade) while the old version's index keeps serving.
    new_model = {"PSBIR_FAKE_MODEL_VERSION": "fake-2"}
    with killable_worker(
        PSBIR_INDEX_BATCH_SIZE="1", PSBIR_FAKE_ENGINE_DELAY="0.4", **new_model
    ) as worker:
        wait_or_fail(
            half_done,
            workers=[worker],
            what="the job was never seen half-way",
            timeout=60,
            interval=0.1,
        )
        kill_group(worker)
    killed_at = time.monotonic()

    row = IndexJob.objects.get(pk=job.pk)
    assert row.status == IndexJob.Status.RUNNING and row.done < row.total
    assert row.model_version == "fake-2"
    killed_lease = row.lease_token
    library.refresh_from_db()
    assert library.model_version == fake_engine.model_version == "fake-1"
    # The served vectors did not change (FAISS: the pointer did not move, the served file is
    # the complete old one, nothing new is used; pgvector: nothing was written).
    assert library.indexed_at == built_at and library.index_size == total
    if faiss:
        assert library.index_file == old_file
        assert _faiss_files(library) == [index_store.index_path(old_file)]
    index_store.forget_library(library.pk)  # read it from disk again, as a fresh web process
    assert _search_ids(api_client_a) == served_before

    sweep_until_requeued(lambda: indexing.index_jobs_recover(), job.pk)
    with killable_worker(
        PSBIR_INDEX_BATCH_SIZE="4", PSBIR_FAKE_ENGINE_DELAY="0", **new_model
    ) as worker:
        wait_or_fail(
            lambda: (
                IndexJob.objects.get(pk=job.pk).status
                in (IndexJob.Status.DONE, IndexJob.Status.FAILED)
            ),
            workers=[worker],
            what="no worker finished the job again",
            timeout=100,
        )
    recovered_in = time.monotonic() - killed_at

    row = IndexJob.objects.get(pk=job.pk)
    assert row.status == IndexJob.Status.DONE, row.message
    assert (row.total, row.done, row.failed) == (total, total, 0)
    assert row.lease_token not in ("", killed_lease)  # a second run took the job over
    library.refresh_from_db()
    assert library.indexed_at > built_at and library.index_size == total
    assert library.model_version == "fake-2"
    if faiss:
        assert library.index_file != old_file
        assert not index_store.index_path(old_file).exists()  # the old file went with the swap
        assert _faiss_files(library) == [index_store.index_path(library.index_file)]
    ids = vector_stores.active_store().ids(library).tolist()
    assert sorted(ids) == sorted(
        LibraryImage.objects.filter(library=library).values_list("pk", flat=True)
    )
    fake_engine.model_version = "fake-2"  # this web process upgraded too
    assert _search_ids(api_client_a) == served_before  # same network, same photos, same order
    print(f"re-index job completed {recovered_in:.1f} s after the kill")  # noqa: T201


# --- disk full ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_disk_full_while_writing_an_index_keeps_the_old_one_and_fails_the_job(
    settings, make_library, tenant_a, fake_engine, api_client_a, monkeypatch
):
    from retrieval.engine import checkpoints
    from tests.retrieval.conftest import add_shapes

    settings.PSBIR_VECTOR_ENGINE = "faiss"  # index files are what fills the disk
    library = make_library(tenant_a, name="Shapes")
    add_shapes(library)

    old_file = library.index_file
    served_before = _search_ids(api_client_a)
    job = indexing.library_reindex(library=library, enqueue=False)
    real_fsync = os.fsync

    def full_disk(fd: int) -> None:
        # The bytes are in the temp file already; the device refuses to keep them.
        real_fsync(fd)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoints.os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        indexing.index_job_run(job_id=job.pk, tenant_id=library.tenant_id)
    monkeypatch.setattr(checkpoints.os, "fsync", real_fsync)

    row = IndexJob.objects.get(pk=job.pk)
    assert row.status == IndexJob.Status.FAILED
    assert "No space left on device" in row.message and row.finished_at is not None
    library.refresh_from_db()
    assert library.index_file == old_file
    folder = index_store.index_path(old_file).parent
    assert sorted(p.name for p in folder.iterdir()) == [Path(old_file).name]  # no temp left
    index_store.forget_library(library.pk)
    assert _search_ids(api_client_a) == served_before
    # Space is back: the next re-index succeeds and swaps.
    again = indexing.library_reindex(library=library, enqueue=False)
    assert indexing.index_job_run(job_id=again.pk, tenant_id=library.tenant_id).status == "done"
    library.refresh_from_db()
    assert library.index_file != old_file


# --- training ----------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_training_previous_head_serves_then_job_completes(
    member_a, short_lease, settings, tmp_path
):
    from personalization.lab.synthetic import general_head
    from tests.personalization.conftest import build_world
    from tests.personalization.factories import MODEL_VERSION, asked, closeness_file, make_head

    settings.PSBIR_CLOSENESS_FILE = closeness_file(tmp_path, MODEL_VERSION)

    torch_head = general_head()
    world = build_world(member_a)
    previous = make_head(member_a, head=torch_head)
    feats = np.frombuffer(bytes(world.queries[0].features), np.float16).reshape(512, 8, 8)
    ids = np.array([im.pk for im in world.images], dtype=np.int64)

    def ranked() -> tuple[int | None, list[int]]:
        head_files.clear_cache()
        index_store.clear_process_caches()
        out = ranking.rank_for_user(
            user=member_a,
            query=asked(feats),
            candidate_ids=ids,
            general_distances=np.arange(len(ids), dtype=np.float32),
            top_k=5,
            personal_weight=1.0,
        )
        return out.personal_head_version, [r.image_id for r in out.images]

    before = ranked()
    assert before[0] == previous.version
    job, _ = training.training_request(user=member_a)

    def mid_training() -> bool:
        row = TrainingJob.objects.get(pk=job.pk)
        return row.state == TrainingJob.State.TRAINING and 5 < row.progress < 90

    slow = {"PSBIR_PERSONAL_SAMPLES_PER_BRANCH": "4", "PSBIR_PERSONAL_ROUNDS": "400"}
    with killable_worker(**slow) as worker:
        wait_or_fail(
            mid_training,
            workers=[worker],
            what="training was never seen half-way",
            timeout=75,
            interval=0.1,
        )
        kill_group(worker)

    training_head = TrainingJob.objects.get(pk=job.pk).head
    assert training_head.status == PersonalHead.Status.TRAINING and not training_head.is_active
    assert selectors.active_head(user=member_a).pk == previous.pk
    assert not head_files.absolute_path(
        head_files.relative_path(
            tenant_id=member_a.tenant_id, user_id=member_a.pk, version=training_head.version
        )
    ).exists()
    assert ranked() == before  # the previous head keeps ranking
    killed_at = time.monotonic()

    sweep_until_requeued(lambda: training.training_recover()["requeued"], job.pk)
    fast = {"PSBIR_PERSONAL_SAMPLES_PER_BRANCH": "4", "PSBIR_PERSONAL_ROUNDS": "4"}
    with killable_worker(**fast) as worker:
        wait_or_fail(
            lambda: (
                TrainingJob.objects.get(pk=job.pk).state
                in (TrainingJob.State.READY, TrainingJob.State.FAILED)
            ),
            workers=[worker],
            what="no worker finished the training again",
            timeout=100,
        )

    recovered_in = time.monotonic() - killed_at
    row = TrainingJob.objects.get(pk=job.pk)
    assert row.state == TrainingJob.State.READY, row.message
    assert row.attempts == 2 and row.head_id == training_head.pk
    active = selectors.active_head(user=member_a)
    assert active.pk == row.head_id and active.version > previous.version
    assert head_files.absolute_path(active.file_path).is_file()
    assert ranked()[0] == active.version
    print(f"training job completed {recovered_in:.1f} s after the kill")  # noqa: T201


# --- a large import in chunks --------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_chunk_the_job_completes_no_photo_twice_none_lost(
    indexed_library, fake_engine, api_client_a, short_lease, settings
):
    from retrieval.models import IndexChunk
    from retrieval.services import images as image_services
    from tests.retrieval.fakes import SHAPES, shape_png

    settings.PSBIR_INDEX_CHUNK_SIZE = 4
    library = indexed_library
    items = [
        image_services.UploadItem(name=f"new-{i}.png", data=shape_png(SHAPES[i % 5], seed=50 + i))
        for i in range(12)
    ]
    job = image_services.images_import(library=library, items=items).job  # queued, committed
    chunked = {"PSBIR_INDEX_CHUNK_SIZE": "4"}

    def chunk_half_done() -> bool:
        return IndexChunk.objects.filter(
            job_id=job.pk, status=IndexJob.Status.RUNNING, done__gte=1, done__lt=4
        ).exists()

    with killable_worker(
        PSBIR_INDEX_BATCH_SIZE="1", PSBIR_FAKE_ENGINE_DELAY="0.4", **chunked
    ) as worker:
        wait_or_fail(
            chunk_half_done,
            workers=[worker],
            what="no chunk was seen half-way",
            timeout=60,
            interval=0.1,
        )
        kill_group(worker)
    assert IndexJob.objects.get(pk=job.pk).status == IndexJob.Status.RUNNING
    assert IndexChunk.objects.filter(job_id=job.pk).count() == 3

    sweep_until_requeued(lambda: indexing.index_jobs_recover(), job.pk)
    with killable_worker(PSBIR_INDEX_BATCH_SIZE="2", **chunked) as worker:
        wait_or_fail(
            lambda: (
                IndexJob.objects.get(pk=job.pk).status
                in (IndexJob.Status.DONE, IndexJob.Status.FAILED)
            ),
            workers=[worker],
            what="no worker finished the chunked job",
            timeout=100,
        )
    row = IndexJob.objects.get(pk=job.pk)
    assert row.status == IndexJob.Status.DONE, row.message
    assert (row.total, row.done, row.failed) == (12, 12, 0)
    library.refresh_from_db()
    photos = sorted(LibraryImage.objects.filter(library=library).values_list("pk", flat=True))
    served = vector_stores.active_store().ids(library).tolist()
    assert len(served) == len(set(served)) == library.index_size == 22  # none twice
    assert sorted(served) == photos  # none lost
    assert set(LibraryImage.objects.filter(library=library).values_list("status", flat=True)) == {
        LibraryImage.Status.INDEXED
    }
    assert _search_ids(api_client_a)
