"""The approximate index over ``retrieval_photovector``: IVFFlat lists, sized to the table.

Why IVFFlat and not HNSW (measured on photo-derived vectors and sketch queries, which lie far
from every photo; ``docs/benchmarks.md``, scale): an HNSW graph (m 32, ef_construction 128,
ef_search 800) found 0.88 of the exact top 20 at 300,000 photos and was built at 240 rows a
second as photos were inserted (70 minutes for a million); IVFFlat lists built from the
loaded rows took 59 s at a million, and visiting 1/24 of them found 0.99 of the exact top 20
in 19 ms a query. The price: IVF lists are k-means centroids of the rows present when the
index is built, so the index is built only once the table is large enough
(``PSBIR_PGVECTOR_ANN_MIN_ROWS``; below it a search is an exact scan, 24 ms at 50,000 rows),
and built again, beside the old one, whenever the table has doubled since
(:func:`maintain`, run after large writes and by a django-q2 schedule). Rows added between
builds join their nearest list, as FAISS's IVF does.

Searches visit :func:`probes_for` lists: 1/24 of them (as the FAISS IVF base,
:mod:`retrieval.engine.index`), and never fewer than 32 (at 100,000 photos, 8 of 100
lists found 0.69 of the top 20, 32 of 400 found 0.997). Lists per rows: :func:`lists_for`.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from retrieval.models import PhotoVector

logger = logging.getLogger(__name__)

TABLE = PhotoVector._meta.db_table
INDEX = "photovector_ivfflat"
_NEXT = INDEX + "_next"
PROBE_SHARE = 24
MIN_PROBES = 32
ROWS_PER_LIST = 250
# One lock id for "someone is (re)building the index": concurrent maintainers skip.
_LOCK_ID = 0x50_53_42_49_52_01


@dataclass(frozen=True)
class Maintenance:
    """What :func:`maintain` found and did."""

    rows: int
    lists_before: int | None
    lists_after: int | None
    built: bool
    seconds: float = 0.0


def lists_for(rows: int) -> int:
    """IVF lists for a table of ``rows``: one per 250 rows up to 1,000 lists (250,000 rows),
    then 1,000 up to a million and sqrt(rows) beyond, pgvector's advice. Finer lists than
    pgvector's rows / 1000 found more of the exact top 20 for the rows scanned at 100,000
    (400 lists: 0.997 with 32 probes; 100 lists and 8 probes: 0.69); at a million, 1,000 lists
    with 42 probes found 0.991, built in 59 s with 0.8 GB of memory (4,000 lists: 1.0, but
    6.5 minutes and 3.3 GB)."""
    if rows <= 1_000_000:
        return max(1, min(rows // ROWS_PER_LIST, 1000))
    return int(math.sqrt(rows))


def probes_for(lists: int) -> int:
    return min(lists, max(MIN_PROBES, math.ceil(lists / PROBE_SHARE)))


def current_lists(cursor) -> int | None:
    """The lists of the valid IVFFlat index over the table, or None (no index: exact scans)."""
    built = built_index(cursor)
    return built[0] if built else None


def built_index(cursor) -> tuple[int, int] | None:
    """(lists, rows the table had when they were built) of the valid index, or None. The row
    count is the index's comment, written at the build."""
    cursor.execute(
        "SELECT c.reloptions, obj_description(c.oid, 'pg_class') FROM pg_class c "
        "JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = %s AND i.indisvalid",
        [INDEX],
    )
    row = cursor.fetchone()
    if row is None:
        return None
    options = dict(option.partition("=")[::2] for option in row[0] or [])
    lists = int(options.get("lists", 100))  # 100: pgvector's default
    comment = row[1] or ""
    built_rows = int(comment[5:]) if comment.startswith("rows=") else 0
    return lists, built_rows


def needs_build(rows: int, built: tuple[int, int] | None) -> bool:
    """Whether the table of ``rows`` wants (new) lists: it reached the threshold without
    any, or has doubled since they were built (k-means of the rows then: a library whose
    photos changed kind would crowd a few lists)."""
    if rows < settings.PSBIR_PGVECTOR_ANN_MIN_ROWS:
        return False
    return built is None or rows >= 2 * built[1]


def estimated_rows(cursor) -> int:
    """The table's row count as the planner knows it (kept by ANALYZE and autovacuum): a
    catalog read, where count(*) of a million rows takes a scan."""
    cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [TABLE])
    row = cursor.fetchone()
    return max(int(row[0]), 0) if row else 0


def maintain() -> Maintenance:
    """Build the index if the table wants one (:func:`needs_build`), beside the old one, then
    swap them; searches go on meanwhile (on the old index, or exactly). Outside a
    transaction the build is ``CONCURRENTLY`` (writes go on too); inside one (tests) it is a
    plain build. Another maintainer already at work: nothing is done."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_LOCK_ID])
        if not cursor.fetchone()[0]:
            return Maintenance(rows=0, lists_before=None, lists_after=None, built=False)
        try:
            cursor.execute(f"SELECT count(*) FROM {TABLE}")
            rows = int(cursor.fetchone()[0])
            built = built_index(cursor)
            lists = built[0] if built else None
            if not needs_build(rows, built):
                return Maintenance(rows=rows, lists_before=lists, lists_after=lists, built=False)
            wanted = lists_for(rows)
            started = time.perf_counter()
            concurrently = "" if connection.in_atomic_block else "CONCURRENTLY"
            # A build that died halfway leaves an invalid index behind: start afresh.
            cursor.execute(f"DROP INDEX {concurrently} IF EXISTS {_NEXT}")
            # k-means samples 50 rows a list; pgvector refuses to build in too little memory.
            cursor.execute(
                "SELECT set_config('maintenance_work_mem', %s, false)",
                [settings.PSBIR_PGVECTOR_BUILD_MEMORY],
            )
            try:
                cursor.execute(
                    f"CREATE INDEX {concurrently} {_NEXT} ON {TABLE} "
                    f"USING ivfflat (vector halfvec_l2_ops) WITH (lists = {int(wanted)})"
                )
            except DatabaseError as exc:
                # Most often pgvector's "memory required is N MB": say which setting it is.
                logger.error(
                    "pgvector: building %d IVF lists over %d rows failed (%s); searches stay "
                    "on the old lists or exact. Memory: PSBIR_PGVECTOR_BUILD_MEMORY=%s "
                    "(about 0.85 MB a list).",
                    wanted,
                    rows,
                    exc,
                    settings.PSBIR_PGVECTOR_BUILD_MEMORY,
                )
                raise
            finally:
                cursor.execute("RESET maintenance_work_mem")
            with transaction.atomic():
                cursor.execute(f"DROP INDEX IF EXISTS {INDEX}")
                cursor.execute(f"ALTER INDEX {_NEXT} RENAME TO {INDEX}")
                cursor.execute(f"COMMENT ON INDEX {INDEX} IS 'rows={rows}'")
            seconds = time.perf_counter() - started
            logger.info(
                "pgvector: IVFFlat index over %d rows built with %d lists (was %s) in %.1f s",
                rows,
                wanted,
                lists,
                seconds,
            )
            return Maintenance(
                rows=rows, lists_before=lists, lists_after=wanted, built=True, seconds=seconds
            )
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_ID])
