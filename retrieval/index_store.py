"""Where a library's derived data lives on disk, and the per-process cache of served indexes.

- trunk-map cache: ``PSBIR_FEATURE_DIR/tenant-<t>/library-<l>/<model version>/`` (a FeatureStore);
- FAISS index: ``PSBIR_INDEX_DIR/tenant-<t>/library-<l>/<model version>-<token>.faiss`` (the
  manifest the library's ``index_file`` points to) and, for a large library, the base it
  names, ``<model version>-<token>.ivf`` in the same folder (see
  :mod:`retrieval.engine.index_files`).

Paths are built from server-side ids and a sanitised version string only. An index file is
written once and never modified: a change writes a new manifest and moves the library's
``index_file`` pointer, so a reader holding an old file keeps a consistent index. Successive
manifests share one base (an import writes a small manifest, not the big base), which is
deleted with the last manifest naming it; the process maps each base once and a swap to a
manifest on the same base reuses that mapping.
"""

from __future__ import annotations

import re
import secrets
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from retrieval.engine.features import FeatureStore
    from retrieval.engine.index import VectorIndex
    from retrieval.models import ImageLibrary

_cache_lock = threading.Lock()
# library id -> (index file, loaded index); one entry per library, so memory stays bounded
# by the number of libraries a process serves and an old file is dropped on the next swap.
_served: dict[int, tuple[str, VectorIndex]] = {}


def version_slug(model_version: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model_version).strip("._")
    return slug[:60] or "unversioned"


def _part(tenant_id: int, library_id: int) -> Path:
    return Path(f"tenant-{int(tenant_id)}") / f"library-{int(library_id)}"


def _library_part(library: ImageLibrary) -> Path:
    return _part(library.tenant_id, library.pk)


def feature_root(library: ImageLibrary) -> Path:
    """The library's trunk-map caches, one sub-folder per model version."""
    return Path(settings.PSBIR_FEATURE_DIR) / _library_part(library)


def feature_dir(library: ImageLibrary, model_version: str) -> Path:
    return feature_root(library) / version_slug(model_version)


def feature_store(library: ImageLibrary, model_version: str) -> FeatureStore:
    from retrieval.engine.features import FeatureStore

    return FeatureStore(feature_dir(library, model_version))


_stores: dict[Path, FeatureStore] = {}


def shared_feature_store(library: ImageLibrary, model_version: str) -> FeatureStore:
    """The process's one reader of a library's trunk-map cache (searches re-score from it);
    opened once per process, as a FeatureStore sees what other processes add to it."""
    return _shared(feature_dir(library, model_version))


def _shared(path: Path) -> FeatureStore:
    from retrieval.engine.features import FeatureStore

    with _cache_lock:
        store = _stores.get(path)
        if store is None:
            store = _stores[path] = FeatureStore(path)
    return store


def index_path(relative: str) -> Path:
    root = Path(settings.PSBIR_INDEX_DIR).resolve()
    path = (root / relative).resolve()
    if root not in path.parents:  # the pointer comes from our own database, but be strict
        raise ValueError(f"index path escapes PSBIR_INDEX_DIR: {relative!r}")
    return path


def new_index_name(library: ImageLibrary, model_version: str) -> str:
    name = f"{version_slug(model_version)}-{secrets.token_hex(4)}.faiss"
    return (_library_part(library) / name).as_posix()


def empty_index() -> VectorIndex:
    from retrieval.engine.index import VectorIndex

    return VectorIndex()


def read_index(relative: str) -> VectorIndex:
    """A private copy of a stored index (for building a new one from it)."""
    from retrieval.engine.index import VectorIndex

    return VectorIndex.load(index_path(relative))


def write_index(index: VectorIndex, library: ImageLibrary, model_version: str) -> str:
    """Save ``index`` under a new name and return that name (relative to PSBIR_INDEX_DIR)."""
    relative = new_index_name(library, model_version)
    path = index_path(relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    index.save(path)
    return relative


def linked_index_files(path: Path) -> list[Path]:
    """A manifest and the base file it names (resolved; the base only if it is readable)."""
    from retrieval.engine import index_files

    return [p.resolve() for p in index_files.linked_files(path)]


def _base_in_use(base: Path) -> bool:
    for manifest in base.parent.glob("*.faiss"):
        try:
            if base in linked_index_files(manifest)[1:]:
                return True
        except FileNotFoundError:
            continue
    return False


def delete_index(relative: str) -> None:
    """Delete an index manifest, and its base when no other manifest names it any more.

    Called after the pointer moved away (on commit): a manifest written later names the base
    before the one it replaces is deleted, so a base in use always has a manifest on disk.
    """
    path = index_path(relative)
    linked = linked_index_files(path) if path.exists() else [path]
    path.unlink(missing_ok=True)
    for base in linked[1:]:
        if not _base_in_use(base):
            base.unlink(missing_ok=True)


def served_index(library: ImageLibrary) -> VectorIndex:
    """The library's current index, loaded once per process per index file (its base is
    memory-mapped, and shared with the previous index when the swap kept the same base).

    Raises FileNotFoundError when the pointer moved and the old file is already gone; the
    caller re-reads the library and tries again.
    """
    relative = library.index_file
    with _cache_lock:
        cached = _served.get(library.pk)
    if cached is not None and cached[0] == relative:
        return cached[1]
    index = read_index(relative)
    with _cache_lock:
        _served[library.pk] = (relative, index)
    return index


def forget_library(library_id: int) -> None:
    with _cache_lock:
        _served.pop(library_id, None)
        part = f"library-{int(library_id)}"
        for path in [p for p in _stores if part in p.parts]:
            del _stores[path]


def clear_process_caches() -> None:
    """Forget every served index and shared feature store of this process (tests, and after
    the data directories changed under a running process)."""
    with _cache_lock:
        _served.clear()
        _stores.clear()


def delete_library_files(*, tenant_id: int, library_id: int) -> None:
    """Remove every derived file of a library (features, indexes); media go with their rows."""
    part = _part(tenant_id, library_id)
    for root in (settings.PSBIR_FEATURE_DIR, settings.PSBIR_INDEX_DIR):
        shutil.rmtree(Path(root) / part, ignore_errors=True)
    forget_library(library_id)


# --- pooled features (personal re-scoring at scale; added beside the trunk-map cache) ----


def pooled_dir(library: ImageLibrary, model_version: str) -> Path:
    """The library's pooled general-head features (float16 (1280, 1, 1) rows): a sibling of
    the trunk-map cache, so deleting photos' features or the library's files covers it."""
    return feature_root(library) / f"{version_slug(model_version)}.pooled"


def pooled_store(library: ImageLibrary, model_version: str) -> FeatureStore:
    from retrieval.engine.features import FeatureStore

    return FeatureStore(pooled_dir(library, model_version))


def shared_pooled_store(library: ImageLibrary, model_version: str) -> FeatureStore:
    """The process's one reader of a library's pooled features (see shared_feature_store)."""
    return _shared(pooled_dir(library, model_version))
