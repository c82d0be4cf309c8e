"""Vectors in PostgreSQL with pgvector (the scale-out profile).

One row per photo in ``retrieval_photovector``: ``halfvec(512)``, foreign keys cascading in
the database. Writes go in the caller's transaction (the one that marks the photos indexed)
through binary ``COPY``, built with numpy: a million vectors load in seconds without
formatting a million text vectors. A search is one SQL query over the tenant's chosen
libraries: exact below ``PSBIR_PGVECTOR_ANN_MIN_ROWS`` rows, through the IVFFlat lists of
:mod:`.pgvector_ann` above, whose iterative scan (``ivfflat.iterative_scan``) keeps
visiting lists until ``k`` rows pass the library filter, so a small library among large
ones still gets ``k`` answers.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence

import numpy as np
import psycopg
from django.db import connection, transaction

from retrieval.models import VECTOR_DIM, ImageLibrary, PhotoVector

from . import pgvector_ann
from .base import Nearest

logger = logging.getLogger(__name__)
TABLE = PhotoVector._meta.db_table
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
# One binary COPY row: 4 fields; three int8 (image, tenant, library) and a halfvec, each
# preceded by its byte length; a halfvec is (dim uint16, unused uint16, dim float16).
_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("image_len", ">i4"),
        ("image", ">i8"),
        ("tenant_len", ">i4"),
        ("tenant", ">i8"),
        ("library_len", ">i4"),
        ("library", ">i8"),
        ("vector_len", ">i4"),
        ("dim", ">u2"),
        ("unused", ">u2"),
        ("vector", ">f2", (VECTOR_DIM,)),
    ]
)
_COPY_CHUNK = 20_000
ANALYZE_AFTER_ROWS = 5_000


def copy_rows(image_ids: np.ndarray, tenant_id: int, library_id: int, vectors: np.ndarray) -> bytes:
    """The binary COPY stream of these rows (header and trailer included)."""
    rows = np.zeros(len(image_ids), dtype=_ROW)
    rows["fields"] = 4
    rows["image_len"] = rows["tenant_len"] = rows["library_len"] = 8
    rows["image"] = image_ids
    rows["tenant"] = tenant_id
    rows["library"] = library_id
    rows["vector_len"] = 4 + 2 * VECTOR_DIM
    rows["dim"] = VECTOR_DIM
    rows["vector"] = vectors
    return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER


def _text(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{v:.7g}" for v in np.asarray(vector, np.float32).reshape(-1)) + "]"


def _from_binary(raw: bytes) -> np.ndarray:
    """A halfvec in PostgreSQL's binary form -> float32 (D,)."""
    dim = struct.unpack_from(">H", raw)[0]
    return np.frombuffer(raw, dtype=">f2", count=dim, offset=4).astype(np.float32)


class PgvectorStore:
    name = "pgvector"

    # --- writes (the caller holds the library's row lock) ----------------------------------
    def write(
        self,
        library: ImageLibrary,
        image_ids: np.ndarray,
        vectors: np.ndarray,
        *,
        model_version: str,
        replace_all: bool,
    ) -> int:
        image_ids = np.asarray(image_ids, dtype=np.int64)
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(image_ids), -1)
        if len(image_ids) and vectors.shape[1] != VECTOR_DIM:
            raise ValueError(f"vectors must be {VECTOR_DIM}-d, got {vectors.shape[1]}")
        if not np.isfinite(vectors).all():
            raise ValueError("vectors must be finite")
        with transaction.atomic(), connection.cursor() as cursor:
            if replace_all:
                cursor.execute(
                    f"DELETE FROM {TABLE} WHERE tenant_id = %s AND library_id = %s",
                    [library.tenant_id, library.pk],
                )
            elif len(image_ids):
                cursor.execute(
                    f"DELETE FROM {TABLE} WHERE tenant_id = %s AND image_id = ANY(%s::bigint[])",
                    [library.tenant_id, image_ids.tolist()],
                )
            raw = cursor.cursor  # psycopg's own cursor: COPY is not in Django's API
            for start in range(0, len(image_ids), _COPY_CHUNK):
                stop = start + _COPY_CHUNK
                with raw.copy(
                    f"COPY {TABLE} (image_id, tenant_id, library_id, vector) "
                    "FROM STDIN WITH (FORMAT BINARY)"
                ) as copy:
                    rows = copy_rows(
                        image_ids[start:stop], library.tenant_id, library.pk, vectors[start:stop]
                    )
                    copy.write(rows)
            if len(image_ids) >= ANALYZE_AFTER_ROWS:
                # Fresh statistics, or the planner, which has none yet for a big load, sorts a
                # scan of the whole library instead of using the approximate index (63 ms
                # instead of ~2 ms a query at 100,000 photos). ANALYZE samples a fixed number
                # of rows: well under a second at any size.
                cursor.execute(f"ANALYZE {TABLE}")
            if pgvector_ann.needs_build(
                pgvector_ann.estimated_rows(cursor), pgvector_ann.built_index(cursor)
            ):
                # The table reached the size for IVF lists, or doubled since they were
                # made: build them once these rows are committed (a task; CONCURRENTLY).
                transaction.on_commit(_enqueue_maintenance)
        return self._count(library)

    def remove(self, library: ImageLibrary, image_ids: np.ndarray) -> int:
        ids = np.asarray(image_ids, dtype=np.int64).tolist()
        if ids:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"DELETE FROM {TABLE} WHERE tenant_id = %s AND library_id = %s "
                    "AND image_id = ANY(%s::bigint[])",
                    [library.tenant_id, library.pk, ids],
                )
        return self._count(library)

    def drop(self, library: ImageLibrary) -> None:
        from . import pgvector_available

        if pgvector_available():  # else the table was never made: nothing to forget
            PhotoVector.objects.for_tenant(library.tenant_id).filter(library=library).delete()

    def _count(self, library: ImageLibrary) -> int:
        return PhotoVector.objects.for_tenant(library.tenant_id).filter(library=library).count()

    # --- reads -----------------------------------------------------------------------------
    def holds(self, library: ImageLibrary) -> bool:
        return library.index_engine == self.name and library.index_size > 0

    def ids(self, library: ImageLibrary) -> np.ndarray:
        ids = (
            PhotoVector.objects.for_tenant(library.tenant_id)
            .filter(library=library)
            .values_list("image_id", flat=True)
        )
        return np.fromiter(ids, dtype=np.int64)

    def nearest(self, libraries: Sequence[ImageLibrary], vector: np.ndarray, k: int) -> Nearest:
        """The index (or an exact scan) nominates the ``k`` nearest in half precision; their
        distances are then computed exactly, in float32, from the stored vectors and the query as
        asked, so they agree with :meth:`vectors` and with FAISS's exact search."""
        libraries = list(libraries)
        if not libraries or k < 1:
            return Nearest.empty()
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        text = _text(query)
        tenant_id, library_ids = libraries[0].tenant_id, [lib.pk for lib in libraries]
        with transaction.atomic(), psycopg.Cursor(_raw_connection()) as cursor:
            lists = pgvector_ann.current_lists(cursor)
            if lists is not None:
                # SET LOCAL: only this transaction's scan; the pool's next user sees the
                # defaults.
                cursor.execute(
                    "SELECT set_config('ivfflat.probes', %s, true), "
                    "set_config('ivfflat.iterative_scan', 'relaxed_order', true)",
                    [str(pgvector_ann.probes_for(lists))],
                )
            rows = _nearest_rows(cursor, tenant_id, library_ids, text, k)
            expected = min(k, sum(max(lib.index_size, 0) for lib in libraries))
            if len(rows) < expected:
                # The index scan gave up before k rows passed the library filter (an
                # iterative scan stops at ivfflat.max_probes lists; an HNSW one, on a
                # database indexed by hand, at hnsw.max_scan_tuples entries, dead ones
                # included). A search never returns fewer than the libraries hold.
                logger.warning(
                    "pgvector: the index scan found %d of %d rows in libraries %s; exact scan",
                    len(rows),
                    expected,
                    library_ids,
                )
                cursor.execute("SELECT set_config('enable_indexscan', 'off', true)")
                rows = _nearest_rows(cursor, tenant_id, library_ids, text, k)
        if not rows:
            return Nearest.empty()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        stored = np.stack([_from_binary(bytes(r[1])) for r in rows])
        distances = np.linalg.norm(stored - query, axis=1).astype(np.float32)
        order = np.argsort(distances, kind="stable")
        return Nearest(ids=ids[order], distances=distances[order])

    def vectors(
        self, libraries: Sequence[ImageLibrary], image_ids: Sequence[int]
    ) -> dict[int, np.ndarray]:
        libraries = list(libraries)
        ids = [int(i) for i in image_ids]
        if not libraries or not ids:
            return {}
        # A server-side-binding cursor (Django's are client-side, which read text only) that
        # reads each halfvec as its bytes: 200 vectors a search, parsed by numpy.
        with psycopg.Cursor(_raw_connection()) as cursor:
            cursor.execute(
                f"SELECT image_id, vector FROM {TABLE} "
                "WHERE tenant_id = %s AND library_id = ANY(%s::bigint[]) "
                "AND image_id = ANY(%s::bigint[])",
                [libraries[0].tenant_id, [lib.pk for lib in libraries], ids],
                binary=True,
            )
            return {int(image_id): _from_binary(bytes(raw)) for image_id, raw in cursor}


def _enqueue_maintenance() -> None:
    from django_q.tasks import async_task

    async_task("retrieval.tasks.maintain_vector_index", task_name="maintain-vector-index")


def _nearest_rows(
    cursor: psycopg.Cursor, tenant_id: int, library_ids: list[int], text: str, k: int
) -> list[tuple]:
    """(image_id, halfvec bytes) of the ``k`` nearest rows, as the planner chooses to scan."""
    cursor.execute(
        f"SELECT image_id, vector FROM {TABLE} "
        "WHERE tenant_id = %s AND library_id = ANY(%s::bigint[]) "
        "ORDER BY vector <-> %s::halfvec LIMIT %s",
        [tenant_id, library_ids, text, int(k)],
        binary=True,
    )
    return cursor.fetchall()


def _raw_connection():
    """psycopg's connection under Django's (a binary cursor reads a halfvec as its bytes)."""
    connection.ensure_connection()
    return connection.connection
