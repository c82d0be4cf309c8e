"""Where a library's general vectors are served from: one small interface, two stores.

- ``faiss``: an index file per library (:mod:`retrieval.index_store`), loaded by each process
  that searches; the embedded default, and FAISS on the GPU where faiss-gpu and CUDA are.
- ``pgvector``: rows of ``retrieval_photovector`` (a ``halfvec(512)`` column, under IVFFlat
  lists once the table is large: :mod:`.pgvector_ann`) in PostgreSQL, written in the
  transaction that marks the photo indexed and deleted with it; every web node reads the
  same vectors, nothing is copied or rebuilt at start-up.

``PSBIR_VECTOR_ENGINE`` chooses: ``auto`` (pgvector on PostgreSQL whose ``vector``
extension let migration 0006 create the table, FAISS otherwise), ``faiss`` or ``pgvector``.
A library records the store that holds its vectors (``ImageLibrary.index_engine``); one held
by another store than the configured one is re-indexed before it is searched.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from .base import Nearest, VectorStore

__all__ = ["Nearest", "VectorStore", "active_store", "engine_name", "maintain", "store_named"]

ENGINES = ("faiss", "pgvector")


@functools.cache
def _vector_table_exists(vendor: str, database: str) -> bool:
    from retrieval.models import PhotoVector

    if vendor != "postgresql":
        return False
    return PhotoVector._meta.db_table in connection.introspection.table_names()


def pgvector_available() -> bool:
    """True when this database holds the pgvector table (PostgreSQL with ``vector``)."""
    return _vector_table_exists(connection.vendor, str(connection.settings_dict.get("NAME")))


def engine_name() -> str:
    """The configured store's name (``auto`` resolved); ``ImproperlyConfigured`` when
    pgvector is asked for on a database that does not have it."""
    wanted = settings.PSBIR_VECTOR_ENGINE
    if wanted == "auto":
        return "pgvector" if pgvector_available() else "faiss"
    if wanted not in ENGINES:
        raise ImproperlyConfigured(
            f"PSBIR_VECTOR_ENGINE must be auto, faiss or pgvector, not {wanted!r}"
        )
    if wanted == "pgvector" and not pgvector_available():
        raise ImproperlyConfigured(
            "PSBIR_VECTOR_ENGINE=pgvector needs PostgreSQL with the vector extension "
            "(docs/deploy.md), then `manage.py migrate` (retrieval 0006 creates the table)."
        )
    return wanted


def store_named(name: str) -> VectorStore:
    if name == "pgvector":
        from .pgvector_store import PgvectorStore

        return PgvectorStore()
    if name == "faiss":
        from .faiss_store import FaissStore

        return FaissStore()
    raise ValueError(f"no vector store named {name!r}")


def active_store() -> VectorStore:
    """The store new vectors are written to and searches read from."""
    return store_named(engine_name())


def maintain() -> str:
    """Keep the active store's approximate index fit for its size; says what it did.
    (FAISS files are kept by the index writes themselves: nothing to do.)"""
    if engine_name() != "pgvector":
        return "faiss: nothing to maintain"
    from .pgvector_ann import maintain as maintain_pgvector

    done = maintain_pgvector()
    if done.built:
        return (
            f"pgvector: IVFFlat over {done.rows} rows rebuilt with {done.lists_after} lists "
            f"(was {done.lists_before}) in {done.seconds:.1f} s"
        )
    return f"pgvector: {done.rows} rows, {done.lists_before} lists: nothing to do"
