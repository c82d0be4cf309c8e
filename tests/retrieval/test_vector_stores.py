"""The vector stores' one interface (retrieval.vector_stores), on the store the profile runs:
FAISS files on the embedded default, pgvector rows on the scale-out profile (PostgreSQL with
the vector extension). pgvector-only behaviour is checked where PostgreSQL is."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction

from retrieval import vector_stores
from retrieval.models import ImageLibrary, IndexJob, LibraryImage, PhotoVector
from retrieval.services import indexing, queries
from retrieval.services.libraries import library_create

pytestmark = pytest.mark.django_db
needs_pgvector = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="pgvector lives in PostgreSQL (scale-out profile)"
)


def _unit(rng: np.random.Generator, n: int, centre: np.ndarray | None = None) -> np.ndarray:
    points = rng.normal(size=(n, 512)).astype(np.float32)
    if centre is not None:
        points = centre + 0.3 * points / np.sqrt(512)
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def _photos(library: ImageLibrary, n: int) -> np.ndarray:
    rows = LibraryImage.objects.bulk_create(
        [
            LibraryImage(
                tenant_id=library.tenant_id,
                library=library,
                photo=f"p{i}.png",
                status=LibraryImage.Status.INDEXED,
                model_version="v1",
            )
            for i in range(n)
        ]
    )
    return np.array([row.pk for row in rows], dtype=np.int64)


def _write(library: ImageLibrary, ids: np.ndarray, vectors: np.ndarray, **kw: Any) -> int:
    store = vector_stores.active_store()
    with transaction.atomic():
        locked = ImageLibrary.objects.select_for_update().get(pk=library.pk)
        size = store.write(locked, ids, vectors, model_version="v1", **kw)
        locked.index_engine, locked.index_size, locked.model_version = store.name, size, "v1"
        locked.save()
    library.refresh_from_db()
    return size


def _exact(ids: np.ndarray, vectors: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    order = np.argsort(np.linalg.norm(vectors - query, axis=1), kind="stable")[:k]
    return ids[order]


def test_auto_is_faiss_without_pgvector_and_a_bad_choice_is_refused(settings: Any, db: None):
    settings.PSBIR_VECTOR_ENGINE = "auto"
    expected = "pgvector" if vector_stores.pgvector_available() else "faiss"
    assert vector_stores.engine_name() == expected
    settings.PSBIR_VECTOR_ENGINE = "faiss"
    assert vector_stores.active_store().name == "faiss"
    settings.PSBIR_VECTOR_ENGINE = "annoy"
    with pytest.raises(ImproperlyConfigured, match="auto, faiss or pgvector"):
        vector_stores.engine_name()
    if not vector_stores.pgvector_available():
        settings.PSBIR_VECTOR_ENGINE = "pgvector"
        with pytest.raises(ImproperlyConfigured, match="vector extension"):
            vector_stores.engine_name()


def test_write_search_read_remove_and_replace(tenant_a: Any, db: None):
    rng = np.random.default_rng(0)
    library = library_create(tenant=tenant_a, name="Contract")
    ids = _photos(library, 300)
    vectors = _unit(rng, 300)
    assert _write(library, ids, vectors, replace_all=False) == 300
    store = vector_stores.active_store()
    assert store.holds(library)
    assert sorted(store.ids(library).tolist()) == sorted(ids.tolist())

    query = vectors[7] + 0.01 * _unit(rng, 1)[0]
    nearest = store.nearest([library], query, 20)
    assert nearest.ids[0] == ids[7]
    assert list(nearest.ids) == list(_exact(ids, vectors, query, 20))  # exact at this size
    assert np.all(np.diff(nearest.distances) >= 0)
    expected = np.linalg.norm(vectors[7] - query)
    assert nearest.distances[0] == pytest.approx(expected, abs=2e-3)

    got = store.vectors([library], [int(ids[3]), int(ids[5]), 10**9])
    assert set(got) == {int(ids[3]), int(ids[5])}  # an unknown id is simply absent
    np.testing.assert_allclose(got[int(ids[3])], vectors[3], atol=2e-3)  # halfvec: fp16

    # Replace one vector (same id, new place), then remove two.
    moved = _unit(rng, 1)
    _write(library, ids[:1], moved, replace_all=False)
    np.testing.assert_allclose(
        store.vectors([library], [int(ids[0])])[int(ids[0])], moved[0], atol=2e-3
    )
    with transaction.atomic():
        assert store.remove(library, ids[1:3]) == 298
    assert not set(ids[1:3].tolist()) & set(store.nearest([library], vectors[1], 50).ids.tolist())

    # replace_all: the library then holds exactly these.
    assert _write(library, ids[:10], vectors[:10], replace_all=True) == 10
    assert sorted(store.ids(library).tolist()) == sorted(ids[:10].tolist())


def test_one_search_over_several_libraries_never_crosses_tenants(
    tenant_a: Any, tenant_b: Any, db: None
):
    rng = np.random.default_rng(1)
    centre = _unit(rng, 1)[0]
    mine = [library_create(tenant=tenant_a, name=f"A{i}") for i in range(2)]
    theirs = library_create(tenant=tenant_b, name="B")
    ids_mine = []
    for library in mine:
        ids = _photos(library, 40)
        _write(library, ids, _unit(rng, 40, centre), replace_all=False)
        ids_mine += ids.tolist()
    ids_theirs = _photos(theirs, 40)
    # Tenant B's photos are the nearest of all to the query: they must still not come back.
    _write(theirs, ids_theirs, _unit(rng, 40, centre), replace_all=False)
    store = vector_stores.active_store()
    found = store.nearest(mine, centre, 60)
    assert len(found.ids) == 60 and set(found.ids.tolist()) <= set(ids_mine)
    assert {int(i) for i in found.ids} & {int(i) for i in ids_mine[:40]}  # both libraries
    assert {int(i) for i in found.ids} & {int(i) for i in ids_mine[40:]}
    assert store.vectors(mine, ids_theirs.tolist()) == {}


def test_a_library_held_by_another_store_is_reindexed_before_it_is_searched(
    indexed_library: ImageLibrary, fake_engine: Any, run_on_commit: Any
):
    library = indexed_library
    active = vector_stores.active_store().name
    other = "pgvector" if active == "faiss" else "faiss"
    # As if the configured store changed since the library was indexed.
    ImageLibrary.objects.filter(pk=library.pk).update(index_engine=other)
    library.refresh_from_db()
    with pytest.raises(queries.SearchUnavailable, match=f"re-indexed into the {active}"):
        queries.searchable_libraries(libraries=[library], model_version=library.model_version)
    job = IndexJob.objects.get(library=library, kind=IndexJob.Kind.REINDEX)
    with run_on_commit():
        indexing.index_job_run(job_id=job.pk, tenant_id=library.tenant_id)
    library.refresh_from_db()
    assert library.index_engine == active and library.index_size == 10
    usable, notes = queries.searchable_libraries(
        libraries=[library], model_version=library.model_version
    )
    assert usable == [library] and notes == []
    assert len(vector_stores.active_store().ids(library)) == 10


@needs_pgvector
def test_pgvector_rows_go_with_their_photo_library_and_organisation(
    tenant_a: Any, tenant_b: Any, db: None
):
    rng = np.random.default_rng(2)
    library = library_create(tenant=tenant_a, name="Cascade")
    ids = _photos(library, 5)
    _write(library, ids, _unit(rng, 5), replace_all=False)
    LibraryImage.objects.filter(pk=ids[0]).delete()
    assert PhotoVector.objects.for_tenant(tenant_a).count() == 4
    library.delete()
    assert PhotoVector.objects.for_tenant(tenant_a).count() == 0
    other = library_create(tenant=tenant_b, name="Gone with B")
    _write(other, _photos(other, 3), _unit(rng, 3), replace_all=False)
    tenant_b.delete()
    assert not PhotoVector.objects.filter(tenant_id=tenant_b.pk).exists()


def _plan(cursor: Any, library: ImageLibrary, query: np.ndarray) -> str:
    cursor.execute(
        "EXPLAIN SELECT image_id FROM retrieval_photovector WHERE library_id = %s "
        "ORDER BY vector <-> %s::halfvec LIMIT 20",
        [library.pk, "[" + ",".join(f"{v:.6f}" for v in query) + "]"],
    )
    return " ".join(row[0] for row in cursor.fetchall())


@needs_pgvector
def test_pgvector_ivf_lists_are_built_at_the_threshold_and_again_when_the_table_doubles(
    tenant_a: Any, db: None, settings: Any, django_capture_on_commit_callbacks: Any
):
    from django_q.models import Schedule

    from retrieval import tasks
    from retrieval.vector_stores import pgvector_ann, pgvector_store

    settings.PSBIR_PGVECTOR_ANN_MIN_ROWS = 1000
    rng = np.random.default_rng(11)
    library = library_create(tenant=tenant_a, name="Growing")

    def lists() -> int | None:
        with connection.cursor() as cursor:
            return pgvector_ann.current_lists(cursor)

    # Migration 0008 left no HNSW graph, and scheduled the maintenance.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_class WHERE relname = 'photovector_hnsw'")
        assert cursor.fetchone() is None
    assert Schedule.objects.filter(func="retrieval.tasks.maintain_vector_index").exists()

    _write(library, _photos(library, 800), _unit(rng, 800), replace_all=False)
    assert "nothing to do" in tasks.maintain_vector_index() and lists() is None  # exact
    _write(library, _photos(library, 700), _unit(rng, 700), replace_all=False)
    assert "rebuilt with 6 lists" in tasks.maintain_vector_index() and lists() == 6
    _write(library, _photos(library, 300), _unit(rng, 300), replace_all=False)
    assert "nothing to do" in tasks.maintain_vector_index() and lists() == 6  # not doubled
    # A large write (ANALYZEd, so the table's size is known at once) asks for a rebuild
    # after its commit; the task rebuilds beside the old lists and swaps them.
    with django_capture_on_commit_callbacks() as callbacks:
        _write(library, _photos(library, 5200), _unit(rng, 5200), replace_all=False)
    assert pgvector_store._enqueue_maintenance in callbacks
    assert "rebuilt with 28 lists (was 6)" in tasks.maintain_vector_index()
    assert lists() == 28
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'photovector_ivf%%'")
        assert cursor.fetchone()[0] == 1  # the old lists went, no half-built index is left


def _big_and_small_on_lists(
    tenant: Any, seed: int, settings: Any, monkeypatch: Any
) -> tuple[ImageLibrary, np.ndarray, np.ndarray, np.ndarray]:
    """A big library of 3,000 photos round ``centre`` and a small one of 30 anywhere, under
    IVF lists a search visits one of first (``MIN_PROBES`` 1): (small, its ids, its vectors,
    centre)."""
    from retrieval.vector_stores import pgvector_ann

    settings.PSBIR_PGVECTOR_ANN_MIN_ROWS = 1000
    monkeypatch.setattr(pgvector_ann, "MIN_PROBES", 1)  # 1 list of 12 is visited first
    rng = np.random.default_rng(seed)
    big = library_create(tenant=tenant, name="Big")
    small = library_create(tenant=tenant, name="Small")
    centre = _unit(rng, 1)[0]
    _write(big, _photos(big, 3000), _unit(rng, 3000, centre), replace_all=False)
    small_ids = _photos(small, 30)
    small_vectors = _unit(rng, 30)
    _write(small, small_ids, small_vectors, replace_all=False)
    assert vector_stores.maintain().startswith("pgvector: IVFFlat over 3030 rows rebuilt")
    return small, small_ids, small_vectors, centre


@needs_pgvector
def test_pgvector_ivf_filtered_by_a_small_library_still_answers_k(
    tenant_a: Any, db: None, settings: Any, monkeypatch: Any
):
    """The IVF lists are shared by every library; the iterative scan keeps visiting lists
    until K rows of the asked library are found, however far from the query they lie."""
    small, small_ids, _, centre = _big_and_small_on_lists(tenant_a, 3, settings, monkeypatch)
    with connection.cursor() as cursor:
        # A plan through the lists, as a big library's is (here the planner would rather
        # sort the small library's 30 rows).
        cursor.execute("SET enable_sort = off")
        assert "photovector_ivfflat" in _plan(cursor, small, centre)
    try:
        found = vector_stores.active_store().nearest([small], centre, 20)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET enable_sort")
    assert len(found.ids) == 20 and set(found.ids.tolist()) <= set(small_ids.tolist())


@needs_pgvector
def test_pgvector_scan_that_gives_up_early_is_completed_exactly(
    tenant_a: Any, db: None, settings: Any, monkeypatch: Any, caplog: Any
):
    """An iterative scan stops at ``ivfflat.max_probes`` lists (an HNSW one at
    ``hnsw.max_scan_tuples`` entries) and may then return fewer than K rows, even none:
    the store then scans the libraries exactly."""
    small, small_ids, small_vectors, centre = _big_and_small_on_lists(
        tenant_a, 5, settings, monkeypatch
    )
    with connection.cursor() as cursor:
        cursor.execute("SET enable_sort = off")
        cursor.execute("SET ivfflat.max_probes = 1")  # the list nearest the centre only
        assert "photovector_ivfflat" in _plan(cursor, small, centre)
    try:
        with caplog.at_level("WARNING", logger="retrieval.vector_stores.pgvector_store"):
            found = vector_stores.active_store().nearest([small], centre, 20)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ivfflat.max_probes")
            cursor.execute("RESET enable_sort")
    assert found.ids.tolist() == _exact(small_ids, small_vectors, centre, 20).tolist()
    assert "exact scan" in caplog.text  # the index scan did give up
