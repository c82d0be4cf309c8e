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

Two kinds (``kind``):

- ``"flat"``: exact search (``IndexIDMap2(IndexFlatL2)``), below ``ann_threshold`` vectors;
  ``vectors()`` returns exactly what was added.
- ``"ivf"``: an immutable **base** (``IndexIVFScalarQuantizer``, 8-bit codes, about
  4 sqrt(N) lists capped at :data:`MAX_NLIST`, ``nprobe`` lists visited per query) plus a
  small exact **delta** (a flat index of the vectors added since the base was built) and a
  **mask** (base ids removed or replaced since). Searches merge base and delta answers; the
  base never changes in place: once delta + mask outgrow ``merge_fraction`` of the base (or
  ``max_delta``), they are merged into a new base (retrained when the index grew
  :data:`RETRAIN_GROWTH` times since training). Base vectors come back from ``vectors()``
  decoded from their 8-bit codes: approximate (error about 1/255 of each dimension's range).
  Back to flat below half the threshold.

Saved (see :mod:`.index_files`) as a small manifest (header, delta, mask) that names its base
file, a plain FAISS file next to it. ``load`` memory-maps the base (``faiss.IO_FLAG_MMAP``:
the inverted lists are read from the page cache, one copy per machine) and shares one mapping
per base file per process; saving an index whose base came from a file in the same folder
writes the manifest only. An index is a cache rebuilt from the database; ``metadata`` (e.g.
the model version) is saved with it so a caller can refuse an index built by another model.
"""

from __future__ import annotations

import logging
import threading
import weakref
from pathlib import Path
from typing import Any

import numpy as np

# faiss first tries builds for AVX512/AVX2 CPUs and logs at INFO when they are not installed
# ("Could not load library with AVX512 support"); the generic build then loads fine. Quiet
# that notice unless the caller chose a level for the logger.
if logging.getLogger("faiss.loader").level == logging.NOTSET:
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)

import faiss  # noqa: E402

from . import index_files  # noqa: E402

ANN_THRESHOLD = 50_000
DEFAULT_NPROBE = 32
# Sketch queries lie far from every photo (on unit vectors their nearest photo is ~1.08
# away, the 20th ~1.11), so their neighbours spread over more lists than a photo's: at
# 1,000,000 vectors (4,096 lists) 32 probes found 0.88 of the exact top 20, 128 probes 0.98
# (`manage.py scale_benchmark`, docs/faiss_at_scale.md). A search visits at least this share.
PROBE_SHARE = 24
MAX_NLIST = 4096
MERGE_FRACTION = 0.10
MAX_DELTA = 20_000
RETRAIN_GROWTH = 4
_TRAIN_SEED = 1234
_MAX_TRAIN_POINTS_PER_LIST = 40


def _ids_array(ids: Any) -> np.ndarray:
    array = np.asarray(ids)
    if array.ndim != 1:
        raise ValueError("ids must be a 1-d array")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError("ids must be integers")
    return np.ascontiguousarray(array, dtype=np.int64)


def _in_sorted(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    if not len(sorted_ids):
        return np.zeros(len(ids), bool)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return sorted_ids[pos] == ids


class _Base:
    """An immutable inverted-file index, in memory or memory-mapped from a file."""

    def __init__(self, index: faiss.IndexIVF, path: Path | None = None, mapped: bool = False):
        self.index = index
        self.path = path
        self.mapped = mapped
        self._lock = threading.Lock()
        self._lookup: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def lookup(self) -> tuple[np.ndarray, np.ndarray]:
        """(sorted ids, their positions ``list << 32 | offset``), built on first use."""
        with self._lock:
            if self._lookup is None:
                lists = self.index.invlists
                ids, pos = [], []
                for i in range(self.index.nlist):
                    size = lists.list_size(i)
                    if size:
                        ids.append(faiss.rev_swig_ptr(lists.get_ids(i), size).copy())
                        pos.append((np.int64(i) << 32) + np.arange(size, dtype=np.int64))
                all_ids = np.concatenate(ids).astype(np.int64) if ids else np.zeros(0, np.int64)
                all_pos = np.concatenate(pos) if pos else np.zeros(0, np.int64)
                order = np.argsort(all_ids, kind="stable")
                self._lookup = (all_ids[order], all_pos[order])
            return self._lookup

    def contains(self, ids: np.ndarray) -> np.ndarray:
        return _in_sorted(self.lookup()[0], ids)

    def reconstruct(self, ident: int) -> np.ndarray | None:
        sorted_ids, positions = self.lookup()
        row = int(np.searchsorted(sorted_ids, ident))
        if row >= len(sorted_ids) or sorted_ids[row] != ident:
            return None
        position = int(positions[row])
        out = np.empty(self.index.d, np.float32)
        self.index.reconstruct_from_offset(
            position >> 32, position & 0xFFFFFFFF, faiss.swig_ptr(out)
        )
        return out

    def items(self) -> tuple[np.ndarray, np.ndarray]:
        """Every (id, decoded vector), list by list."""
        index, lists = self.index, self.index.invlists
        ids, vectors = [], []
        sq = isinstance(index, faiss.IndexIVFScalarQuantizer)
        for i in range(index.nlist):
            size = lists.list_size(i)
            if not size:
                continue
            ids.append(faiss.rev_swig_ptr(lists.get_ids(i), size).astype(np.int64))
            if sq:
                codes = faiss.rev_swig_ptr(lists.get_codes(i), size * index.code_size)
                decoded = index.sq.decode(np.asarray(codes).reshape(size, index.code_size))
                if index.by_residual:
                    decoded += index.quantizer.reconstruct(i)
            else:
                decoded = np.empty((size, index.d), np.float32)
                for offset in range(size):
                    index.reconstruct_from_offset(i, offset, faiss.swig_ptr(decoded[offset]))
            vectors.append(decoded.astype(np.float32, copy=False))
        if not ids:
            return np.zeros(0, np.int64), np.zeros((0, index.d), np.float32)
        return np.concatenate(ids), np.concatenate(vectors)

    def owned_copy(self) -> faiss.IndexIVF:
        """A private, writable in-memory copy (the mapped one is read-only)."""
        if self.mapped:
            if self.path is None:
                raise RuntimeError("mapped base without a path")
            return faiss.read_index(str(self.path))
        return faiss.clone_index(self.index)


_mapped_lock = threading.Lock()
_mapped: weakref.WeakValueDictionary[tuple, _Base] = weakref.WeakValueDictionary()


def open_base(path: Path) -> _Base:
    """The process's one memory mapping of the base file ``path`` (shared while in use)."""
    path = Path(path).resolve()
    stat = path.stat()  # FileNotFoundError when it is gone: the caller reads the pointer again
    key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    with _mapped_lock:
        base = _mapped.get(key)
        if base is not None:
            return base
        try:
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP)
        except RuntimeError:
            if not path.exists():  # deleted since the stat: the caller reads the pointer again
                raise FileNotFoundError(str(path)) from None
            raise
        if not isinstance(index, faiss.IndexIVF):
            raise ValueError(f"{path} is not an inverted-file index")
        lists = faiss.downcast_InvertedLists(index.invlists)
        if isinstance(lists, faiss.OnDiskInvertedLists):
            # Its prefetch starts 32 threads per search to page lists in: the codes sit in the
            # page cache already, and those threads doubled the latency (docs/faiss_at_scale.md).
            lists.prefetch_nthread = 0
        base = _Base(index, path, mapped=True)
        _mapped[key] = base
        return base


class VectorIndex:
    """A FAISS index of ``dim``-d float32 vectors with int64 ids (see module docstring)."""

    def __init__(
        self,
        dim: int = 512,
        *,
        ann_threshold: int = ANN_THRESHOLD,
        nprobe: int = DEFAULT_NPROBE,
        merge_fraction: float = MERGE_FRACTION,
        max_delta: int = MAX_DELTA,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.dim = int(dim)
        self.ann_threshold = int(ann_threshold)
        self.nprobe = int(nprobe)
        self.merge_fraction = float(merge_fraction)
        self.max_delta = int(max_delta)
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._lock = threading.RLock()
        self._base: _Base | None = None
        self._delta: faiss.Index = self._new_flat()
        self._masked = np.zeros(0, np.int64)  # sorted base ids hidden from results
        self._params: Any = None  # search parameters for the base (nprobe, mask)
        self._gpu_index: faiss.Index | None = None
        self._trained_size = 0

    # --- kind ------------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        """``"flat"`` (exact) or ``"ivf"`` (approximate)."""
        return "ivf" if self._base is not None else "flat"

    @property
    def _index(self) -> faiss.Index:
        # The main FAISS index (the base when approximate), for reports such as nlist.
        return self._base.index if self._base is not None else self._delta

    @property
    def base_file(self) -> Path | None:
        """The file the base was mapped from or last saved to (``None``: flat, or unsaved)."""
        return self._base.path if self._base is not None else None

    @property
    def delta_size(self) -> int:
        return int(self._delta.ntotal)

    @property
    def masked_size(self) -> int:
        return len(self._masked)

    def _new_flat(self) -> faiss.Index:
        return faiss.IndexIDMap2(faiss.IndexFlatL2(self.dim))

    def _delta_items(self) -> tuple[np.ndarray, np.ndarray]:
        n = int(self._delta.ntotal)
        ids = faiss.vector_to_array(self._delta.id_map).astype(np.int64)
        if not n:
            return ids, np.zeros((0, self.dim), np.float32)
        flat = faiss.downcast_index(self._delta.index)
        return ids, flat.reconstruct_n(0, n).astype(np.float32, copy=False)

    def _all(self) -> tuple[np.ndarray, np.ndarray]:
        delta_ids, delta_vectors = self._delta_items()
        if self._base is None:
            return delta_ids, delta_vectors
        base_ids, base_vectors = self._base.items()
        keep = ~_in_sorted(self._masked, base_ids)
        return (
            np.concatenate([base_ids[keep], delta_ids]),
            np.concatenate([base_vectors[keep], delta_vectors]),
        )

    def rebuild(self, kind: str | None = None) -> None:
        """Rebuild as ``kind`` ("flat" / "ivf"; default: what the size calls for)."""
        with self._lock:
            if kind not in (None, "flat", "ivf"):
                raise ValueError("kind must be 'flat' or 'ivf'")
            self._build(kind, *self._all())

    def _build(self, kind: str | None, ids: np.ndarray, vectors: np.ndarray) -> None:
        with self._lock:
            if kind is None:
                kind = "ivf" if len(ids) > self.ann_threshold else "flat"
            self._delta = self._new_flat()
            self._masked = np.zeros(0, np.int64)
            if kind == "flat":
                self._base = None
                if len(ids):
                    self._delta.add_with_ids(vectors, ids)
            else:
                index = self._train_ivf(vectors)
                if len(ids):
                    index.add_with_ids(vectors, ids)
                self._base = _Base(index)
            self._trained_size = len(ids)
            self._changed()

    def _train_ivf(self, vectors: np.ndarray) -> faiss.IndexIVF:
        n = len(vectors)
        nlist = int(np.clip(round(4 * np.sqrt(max(n, 1))), 1, MAX_NLIST))
        nlist = max(1, min(nlist, n // 39 if n >= 39 else 1))  # FAISS wants ~39 points a list
        quantizer = faiss.IndexFlatL2(self.dim)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, self.dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_L2, True
        )
        rng = np.random.default_rng(_TRAIN_SEED)
        limit = nlist * _MAX_TRAIN_POINTS_PER_LIST
        sample = vectors if n <= limit else vectors[np.sort(rng.choice(n, limit, replace=False))]
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        index.nprobe = self.probes(nlist)
        return index

    def _delta_limit(self) -> int:
        base = self._base.ntotal if self._base is not None else 0
        return max(1, int(min(self.merge_fraction * base, self.max_delta)))

    def _maybe_switch(self) -> None:
        n = len(self)
        if self._base is None:
            if n > self.ann_threshold:
                self.rebuild("ivf")
        elif n <= self.ann_threshold // 2 or n > RETRAIN_GROWTH * max(self._trained_size, 1):
            self.rebuild()
        elif self._delta.ntotal + len(self._masked) > self._delta_limit():
            self.merge()

    def merge(self) -> None:
        """Fold the delta and the mask into a new (in-memory) base, without retraining."""
        with self._lock:
            if self._base is None or (not self._delta.ntotal and not len(self._masked)):
                return
            try:
                index = self._base.owned_copy()
            except (OSError, RuntimeError):  # its file vanished: rebuild from the decoded codes
                self.rebuild("ivf")
                return
            if len(self._masked):
                index.remove_ids(faiss.IDSelectorBatch(self._masked))
            ids, vectors = self._delta_items()
            if len(ids):
                index.add_with_ids(vectors, ids)
            self._base = _Base(index)
            self._delta = self._new_flat()
            self._masked = np.zeros(0, np.int64)
            self._changed()

    def _changed(self) -> None:
        self._gpu_index = None
        self._params = None

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
            if self._base is None and self._delta.ntotal + len(ids) > self.ann_threshold:
                # Crossing the threshold (a first build of a big library): train on everything
                # at once, without a flat copy of it all first.
                old_ids, old_vectors = self._delta_items()
                keep = ~np.isin(old_ids, ids)
                if keep.sum() + len(ids) > self.ann_threshold:
                    if keep.any():
                        ids = np.concatenate([old_ids[keep], ids])
                        vectors = np.concatenate([old_vectors[keep], vectors])
                    self._build("ivf", ids, vectors)
                    return
            self._delta.remove_ids(ids)  # replace semantics: never two entries for one id
            self._mask(ids)
            self._delta.add_with_ids(vectors, ids)
            self._changed()
            self._maybe_switch()

    def _mask(self, ids: np.ndarray) -> int:
        """Hide base entries of ``ids``; returns how many were visible."""
        if self._base is None:
            return 0
        live = ids[self._base.contains(ids) & ~_in_sorted(self._masked, ids)]
        if len(live):
            self._masked = np.union1d(self._masked, live).astype(np.int64)
        return len(live)

    def remove(self, ids: Any) -> int:
        """Remove ``ids`` (unknown ids are ignored); returns how many were removed."""
        ids = np.unique(_ids_array(ids))
        if not len(ids):
            return 0
        with self._lock:
            # An id in the delta that is also in the base (a replaced one) is masked there
            # already, so each id present counts once.
            removed = int(self._delta.remove_ids(ids)) + self._mask(ids)
            self._changed()
            if removed:
                self._maybe_switch()
            return removed

    # --- queries ---------------------------------------------------------------------------
    def __len__(self) -> int:
        base = self._base.ntotal - len(self._masked) if self._base is not None else 0
        return int(base + self._delta.ntotal)

    def ids(self) -> np.ndarray:
        """All ids, int64 (flat: insertion order; IVF: base ids ascending, then the delta's)."""
        with self._lock:
            delta_ids = faiss.vector_to_array(self._delta.id_map).astype(np.int64)
            if self._base is None:
                return delta_ids
            base_ids = self._base.lookup()[0]
            return np.concatenate([base_ids[~_in_sorted(self._masked, base_ids)], delta_ids])

    def __contains__(self, item: int) -> bool:
        ident = np.array([int(item)], np.int64)
        with self._lock:
            if _in_sorted(np.sort(faiss.vector_to_array(self._delta.id_map)), ident)[0]:
                return True
            return bool(
                self._base is not None
                and self._base.contains(ident)[0]
                and not _in_sorted(self._masked, ident)[0]
            )

    def vectors(self, ids: Any) -> np.ndarray:
        """Stored vectors for ``ids`` in that order; ``KeyError`` if one is absent.

        Exact for the delta (and a flat index); decoded from 8-bit codes for the base."""
        ids = _ids_array(ids)
        with self._lock:
            return self._reconstruct(ids)

    def _reconstruct(self, ids: np.ndarray) -> np.ndarray:
        out = np.empty((len(ids), self.dim), np.float32)
        for row, ident in enumerate(ids):
            try:
                out[row] = self._delta.reconstruct(int(ident))
                continue
            except RuntimeError:
                pass
            vector = None
            if self._base is not None and not _in_sorted(self._masked, ids[row : row + 1])[0]:
                vector = self._base.reconstruct(int(ident))
            if vector is None:
                raise KeyError(int(ident)) from None
            out[row] = vector
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
            if len(self) == 0 or len(queries) == 0:
                return (
                    np.full((len(queries), k), np.inf, np.float32),
                    np.full((len(queries), k), -1, np.int64),
                )
            parts = []
            if self._delta.ntotal:
                parts.append(self._search_index().search(queries, k))
            if self._base is not None and self._base.ntotal > len(self._masked):
                parts.append(self._base.index.search(queries, k, params=self._base_params()))
        if len(parts) == 1:
            squared, labels = parts[0]
        else:
            squared = np.concatenate([p[0] for p in parts], axis=1)
            labels = np.concatenate([p[1] for p in parts], axis=1)
            squared = np.where(labels < 0, np.inf, squared)
            order = np.argsort(squared, axis=1, kind="stable")[:, :k]
            squared = np.take_along_axis(squared, order, axis=1)
            labels = np.take_along_axis(labels, order, axis=1)
        labels = labels.astype(np.int64, copy=False)
        distances = np.sqrt(np.maximum(squared, 0.0)).astype(np.float32)
        distances[labels < 0] = np.inf
        return distances, labels

    def probes(self, nlist: int) -> int:
        """Lists a search visits: ``nprobe``, and at least 1/:data:`PROBE_SHARE` of them."""
        return int(max(1, min(nlist, max(self.nprobe, -(-nlist // PROBE_SHARE)))))

    def _base_params(self) -> Any:
        if self._params is None:
            nprobe = self.probes(self._base.index.nlist)
            if len(self._masked):
                batch = faiss.IDSelectorBatch(self._masked)
                selector = faiss.IDSelectorNot(batch)
                params = faiss.SearchParametersIVF(nprobe=nprobe, sel=selector)
                params._keep = (batch, selector)  # the C++ side holds raw pointers
            else:
                params = faiss.SearchParametersIVF(nprobe=nprobe)
            self._params = params
        return self._params

    def _search_index(self) -> faiss.Index:
        # A GPU copy of the exact index, when faiss has GPUs; rebuilt after every change.
        if self.kind != "flat" or not _gpus_available():
            return self._delta
        if self._gpu_index is None:
            self._gpu_index = faiss.index_cpu_to_all_gpus(self._delta)
        return self._gpu_index

    # --- persistence -----------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the index to ``path`` atomically: a manifest (header, delta, mask) and, when
        the base has no file in that folder yet, the base as ``<stem>.ivf`` first."""
        path = Path(path)
        with self._lock:
            base_name = None
            if self._base is not None:
                base = self._base
                here = base.path is not None and base.path.parent.resolve() == path.parent.resolve()
                if not (here and base.path.exists()):
                    target = path.with_name(path.stem + index_files.BASE_SUFFIX)
                    if base.path is not None and base.path.exists():
                        index_files.copy_base(base.path, target)
                    else:
                        index_files.write_base(target, base.index)
                    if not base.mapped:
                        base.path = target
                    else:
                        self._base = open_base(target)
                base_name = self._base.path.name
            delta_ids, delta_vectors = self._delta_items()
            header = {
                "dim": self.dim,
                "ann_threshold": self.ann_threshold,
                "nprobe": self.nprobe,
                "merge_fraction": self.merge_fraction,
                "max_delta": self.max_delta,
                "trained_size": self._trained_size,
                "metadata": self.metadata,
                "base": base_name,
                "base_ntotal": self._base.ntotal if self._base is not None else 0,
                "delta": len(delta_ids),
                "masked": len(self._masked),
            }
            index_files.write_manifest(path, header, [delta_ids, delta_vectors, self._masked])

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        """Read an index written by :meth:`save` (``ValueError`` if it is not one); its base is
        memory-mapped (``FileNotFoundError`` if that file is gone)."""
        path = Path(path)
        version, header, offset = index_files.read_header(path)
        out = cls(
            header["dim"],
            ann_threshold=header["ann_threshold"],
            nprobe=header["nprobe"],
            merge_fraction=header.get("merge_fraction", MERGE_FRACTION),
            max_delta=header.get("max_delta", MAX_DELTA),
            metadata=header.get("metadata") or {},
        )
        if version == 1:
            out._load_v1(path, header, offset)
            return out
        ids, vectors, masked = index_files.read_arrays(
            path, offset, int(header["delta"]), out.dim, int(header["masked"])
        )
        if header.get("base"):
            name = header["base"]
            if not index_files.base_name_ok(name):
                raise ValueError(f"{path}: bad base name {name!r}")
            out._base = open_base(path.parent / name)
            if out._base.index.d != out.dim:
                raise ValueError(f"{path}: base dimension {out._base.index.d} != {out.dim}")
            if out._base.ntotal != int(header.get("base_ntotal", out._base.ntotal)):
                raise ValueError(f"{path}: base {name} does not hold the vectors expected")
        if len(ids):
            out._delta.add_with_ids(vectors, ids)
        out._masked = np.sort(masked)
        out._trained_size = int(header.get("trained_size", len(out)))
        return out

    def _load_v1(self, path: Path, header: dict[str, Any], offset: int) -> None:
        # Version 1: one file holding the whole index (IndexIDMap2(IndexFlatL2) or IndexIVFFlat).
        with open(path, "rb") as fh:
            fh.seek(offset)
            blob = np.frombuffer(fh.read(), dtype=np.uint8)
        index = faiss.deserialize_index(blob)
        if index.d != self.dim:
            raise ValueError(f"{path}: index dimension {index.d} != header {self.dim}")
        if isinstance(index, faiss.IndexIVF):
            index.nprobe = self.probes(index.nlist)
            self._base = _Base(index)
        else:
            self._delta = index
        self._trained_size = int(header.get("trained_size", index.ntotal))


def _gpus_available() -> bool:
    get = getattr(faiss, "get_num_gpus", None)
    return bool(get and get() > 0 and hasattr(faiss, "index_cpu_to_all_gpus"))
