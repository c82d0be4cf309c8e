"""VectorIndex: FAISS over 512-d descriptors, keyed by database primary keys.

Contract (all arrays numpy):
- ``add(ids (N,) int64, vectors (N, dim) float32)``: an id already present is replaced;
- ``remove(ids) -> int``: how many were present;
- ``search(queries (M, dim) float32, k) -> (distances (M, k) float32, ids (M, k) int64)``,
  Euclidean distances (not squared) ascending, padded with ``inf`` / ``-1`` when the index
  holds fewer than ``k`` vectors;
- ``vectors(ids) -> (N, dim) float32`` (``KeyError`` for an unknown id), ``ids()``, ``len``;
- ``save(path)`` writes atomically (temp file + ``os.replace``, so a serving process that
  loads the path sees the old or the new index), ``VectorIndex.load(path)``.

Exact search (``IndexIDMap2(IndexFlatL2)``) by default. When the index grows past
``ann_threshold`` vectors it is rebuilt as an inverted-file index (``IndexIVFFlat``, about
4 sqrt(N) lists, ``nprobe`` lists visited per query; recall measured by
``python -m retrieval.lab benchmark``), and back to exact below half the threshold.
An index is a cache rebuilt from the database; ``metadata`` (e.g. the model version) is
saved with it so a caller can refuse an index built by another model.
"""

from __future__ import annotations

import json
import logging
import struct
import threading
from pathlib import Path
from typing import Any

import numpy as np

# faiss first tries builds for AVX512/AVX2 CPUs and logs at INFO when they are not installed
# ("Could not load library with AVX512 support"); the generic build then loads fine. Quiet
# that notice unless the caller chose a level for the logger.
if logging.getLogger("faiss.loader").level == logging.NOTSET:
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)

import faiss  # noqa: E402

from .checkpoints import atomic_write

ANN_THRESHOLD = 50_000
DEFAULT_NPROBE = 32
_MAGIC = b"PSBIR-VECTOR-INDEX\x01"
_TRAIN_SEED = 1234
_MAX_TRAIN_POINTS_PER_LIST = 64


def _ids_array(ids: Any) -> np.ndarray:
    array = np.asarray(ids)
    if array.ndim != 1:
        raise ValueError("ids must be a 1-d array")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError("ids must be integers")
    return np.ascontiguousarray(array, dtype=np.int64)


class VectorIndex:
    """A FAISS index of ``dim``-d float32 vectors with int64 ids (see module docstring)."""

    def __init__(
        self,
        dim: int = 512,
        *,
        ann_threshold: int = ANN_THRESHOLD,
        nprobe: int = DEFAULT_NPROBE,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.dim = int(dim)
        self.ann_threshold = int(ann_threshold)
        self.nprobe = int(nprobe)
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._lock = threading.RLock()
        self._index: faiss.Index = self._new_flat()
        self._gpu_index: faiss.Index | None = None
        self._trained_size = 0

    # --- kind ------------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        """``"flat"`` (exact) or ``"ivf"`` (approximate)."""
        return "ivf" if isinstance(self._index, faiss.IndexIVF) else "flat"

    def _new_flat(self) -> faiss.Index:
        return faiss.IndexIDMap2(faiss.IndexFlatL2(self.dim))

    def _all(self) -> tuple[np.ndarray, np.ndarray]:
        ids = self.ids()
        if not ids.size:
            return ids, np.zeros((0, self.dim), np.float32)
        return ids, self._reconstruct(ids)

    def rebuild(self, kind: str | None = None) -> None:
        """Rebuild as ``kind`` ("flat" / "ivf"; default: what the size calls for)."""
        with self._lock:
            ids, vectors = self._all()
            if kind is None:
                kind = "ivf" if len(ids) > self.ann_threshold else "flat"
            if kind == "flat":
                index = self._new_flat()
            elif kind == "ivf":
                index = self._train_ivf(vectors)
            else:
                raise ValueError("kind must be 'flat' or 'ivf'")
            if len(ids):
                index.add_with_ids(vectors, ids)
            self._index = index
            self._trained_size = len(ids)
            self._gpu_index = None

    def _train_ivf(self, vectors: np.ndarray) -> faiss.Index:
        n = len(vectors)
        nlist = int(np.clip(round(4 * np.sqrt(max(n, 1))), 1, 8192))
        nlist = max(1, min(nlist, n // 39 if n >= 39 else 1))  # FAISS wants ~39 points a list
        quantizer = faiss.IndexFlatL2(self.dim)
        index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_L2)
        rng = np.random.default_rng(_TRAIN_SEED)
        limit = nlist * _MAX_TRAIN_POINTS_PER_LIST
        sample = vectors if n <= limit else vectors[rng.choice(n, limit, replace=False)]
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        index.nprobe = min(self.nprobe, nlist)
        return index

    def _maybe_switch(self) -> None:
        n = self._index.ntotal
        if self.kind == "flat" and n > self.ann_threshold:
            self.rebuild("ivf")
        elif self.kind == "ivf" and (n <= self.ann_threshold // 2 or n > 8 * self._trained_size):
            self.rebuild()

    # --- mutation --------------------------------------------------------------------------
    def add(self, ids: Any, vectors: Any) -> None:
        """Add (or replace) ``vectors`` under ``ids``."""
        ids = _ids_array(ids)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape != (len(ids), self.dim):
            raise ValueError(f"vectors must be ({len(ids)}, {self.dim}), got {vectors.shape}")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("ids must be unique within one add()")
        if ids.size and (ids < 0).any():
            raise ValueError("ids must be non-negative (-1 marks 'no result')")
        if not np.isfinite(vectors).all():
            raise ValueError("vectors must be finite")
        if not len(ids):
            return
        with self._lock:
            self._index.remove_ids(ids)  # replace semantics: never two entries for one id
            self._index.add_with_ids(vectors, ids)
            self._gpu_index = None
            self._maybe_switch()

    def remove(self, ids: Any) -> int:
        """Remove ``ids`` (unknown ids are ignored); returns how many were removed."""
        ids = _ids_array(ids)
        if not len(ids):
            return 0
        with self._lock:
            removed = int(self._index.remove_ids(ids))
            self._gpu_index = None
            if removed:
                self._maybe_switch()
            return removed

    # --- queries ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        """All ids, int64 (flat: insertion order; IVF: list order)."""
        with self._lock:
            index = self._index
            if isinstance(index, faiss.IndexIVF):
                lists = index.invlists
                parts = [
                    faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                    for i in range(index.nlist)
                    if lists.list_size(i)
                ]
                return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
            return faiss.vector_to_array(index.id_map).astype(np.int64)

    def __contains__(self, item: int) -> bool:
        return bool(np.isin(int(item), self.ids()))

    def vectors(self, ids: Any) -> np.ndarray:
        """Stored vectors for ``ids`` in that order; ``KeyError`` if one is absent."""
        ids = _ids_array(ids)
        with self._lock:
            return self._reconstruct(ids)

    def _reconstruct(self, ids: np.ndarray) -> np.ndarray:
        out = np.empty((len(ids), self.dim), np.float32)
        for row, ident in enumerate(ids):
            try:
                out[row] = self._index.reconstruct(int(ident))
            except RuntimeError:
                raise KeyError(int(ident)) from None
        return out

    def search(self, queries: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """k nearest ids per query and their Euclidean distances (see module docstring)."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim == 1:
            queries = queries[None]
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise ValueError(f"queries must be (M, {self.dim}), got {queries.shape}")
        if int(k) < 1:
            raise ValueError("k must be at least 1")
        k = int(k)
        with self._lock:
            if self._index.ntotal == 0 or len(queries) == 0:
                return (
                    np.full((len(queries), k), np.inf, np.float32),
                    np.full((len(queries), k), -1, np.int64),
                )
            index = self._search_index()
            squared, labels = index.search(queries, k)
        labels = labels.astype(np.int64, copy=False)
        distances = np.sqrt(np.maximum(squared, 0.0)).astype(np.float32)
        distances[labels < 0] = np.inf
        return distances, labels

    def _search_index(self) -> faiss.Index:
        # A GPU copy of the exact index, when faiss has GPUs; rebuilt after every change.
        if self.kind != "flat" or not _gpus_available():
            return self._index
        if self._gpu_index is None:
            self._gpu_index = faiss.index_cpu_to_all_gpus(self._index)
        return self._gpu_index

    # --- persistence -----------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the index and its metadata to ``path`` atomically."""
        with self._lock:
            blob = faiss.serialize_index(self._index)
            header = json.dumps(
                {
                    "dim": self.dim,
                    "ann_threshold": self.ann_threshold,
                    "nprobe": self.nprobe,
                    "trained_size": self._trained_size,
                    "metadata": self.metadata,
                }
            ).encode()

        def write(fh):
            fh.write(_MAGIC)
            fh.write(struct.pack("<Q", len(header)))
            fh.write(header)
            fh.write(memoryview(blob))

        atomic_write(Path(path), write)

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        """Read an index written by :meth:`save` (``ValueError`` if it is not one)."""
        data = Path(path).read_bytes()
        if not data.startswith(_MAGIC):
            raise ValueError(f"{path} is not a PSBIR vector index")
        offset = len(_MAGIC)
        (length,) = struct.unpack_from("<Q", data, offset)
        offset += 8
        header = json.loads(data[offset : offset + length])
        blob = np.frombuffer(data, dtype=np.uint8, offset=offset + length)
        index = faiss.deserialize_index(blob)
        out = cls(
            header["dim"],
            ann_threshold=header["ann_threshold"],
            nprobe=header["nprobe"],
            metadata=header.get("metadata") or {},
        )
        if index.d != out.dim:
            raise ValueError(f"{path}: index dimension {index.d} != header {out.dim}")
        if isinstance(index, faiss.IndexIVF):
            index.nprobe = min(out.nprobe, index.nlist)
        out._index = index
        out._trained_size = int(header.get("trained_size", index.ntotal))
        return out


def _gpus_available() -> bool:
    get = getattr(faiss, "get_num_gpus", None)
    return bool(get and get() > 0 and hasattr(faiss, "index_cpu_to_all_gpus"))
