"""Where a library's general vectors are served from: one small interface, two stores.

- ``faiss``: an index file per library (:mod:`retrieval.index_store`), loaded by each process
  that searches; the embedded default, and FAISS on the GPU where faiss-gpu and CUDA are.
- ``pgvector``: rows of ``retrieval_photovector`` (a ``halfvec(512)`` column under an HNSW
  index) in PostgreSQL, written in the transaction that marks the photo indexed and deleted
  with it; every web node reads the same vectors, nothing is copied or rebuilt at start-up.

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

__all__ = ["Nearest", "VectorStore", "active_store", "engine_name", "store_named"]

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
