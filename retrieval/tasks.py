"""django-q2 task entry points: they take ids and call services (which re-fetch by tenant)."""

from __future__ import annotations

from retrieval.services import indexing


def index_job_task(job_id: int, tenant_id: int) -> None:
    """Index the photos of one :class:`~retrieval.models.IndexJob` (import or re-index)."""
    indexing.index_job_run(job_id=job_id, tenant_id=tenant_id)


def index_chunk_task(chunk_id: int, tenant_id: int) -> None:
    """Index one chunk of a large :class:`~retrieval.models.IndexJob` (any worker, in parallel)."""
    indexing.index_chunk_run(chunk_id=chunk_id, tenant_id=tenant_id)


def recover_index_jobs() -> list[int]:
    """The schedule's entry point: queue again the index jobs whose worker died."""
    return indexing.index_jobs_recover()


def maintain_vector_index() -> str:
    """After large writes and on a schedule: build the pgvector table's approximate index
    when the table has reached the size for one or doubled since (nothing on FAISS)."""
    from retrieval import vector_stores

    return vector_stores.maintain()
