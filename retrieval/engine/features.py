"""FeatureStore: trunk feature maps (C x H x W, one shape per store) on disk as float16,
keyed by int64 ids.

Layout of a store directory::

    manifest.npz          ids, shard index and row of every live entry, shard names, shape
    shard-<hex>.f16       raw float16 rows (N, C, H, W), C order, never modified
    .lock                 writers take an exclusive flock on it

Crash safety: a ``put`` writes a new shard file completely (fsync) before it commits by
atomically replacing ``manifest.npz``; readers only look up entries through the manifest,
so a half-written shard is never read, and a crash leaves at most an unreferenced file that
the next compaction deletes. Shards are immutable, so readers memory-map them without locks
and a reader holding an older manifest still reads consistent data. ``delete`` only rewrites
the manifest; compaction rewrites live rows into one shard when dead rows pile up.
The shape is fixed by the first ``put`` (manifests written before it was recorded are
(512, 8, 8), the VGG-16 conv5 map). At 26 KiB an entry (EfficientNet-Lite2, 208x8x8), 10,000
photos take 260 MiB; at 64 KiB (VGG-16 conv5), 640 MiB.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoints import atomic_write

# What manifests written before the shape was recorded hold: VGG-16 trunk maps.
LEGACY_SHAPE = (512, 8, 8)
_MANIFEST = "manifest.npz"
_MAX_SHARDS = 32


class _Manifest:
    def __init__(self, ids, shard, row, names, counts, shape=None) -> None:
        self.shape = tuple(int(v) for v in shape) if shape is not None else None
        order = np.argsort(ids, kind="stable")
        self.ids = np.asarray(ids, np.int64)[order]
        self.shard = np.asarray(shard, np.int32)[order]
        self.row = np.asarray(row, np.int64)[order]
        self.names = [str(n) for n in names]
        self.counts = [int(c) for c in counts]

    @classmethod
    def empty(cls) -> _Manifest:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int64), [], [])

    def locate(self, ids: np.ndarray) -> np.ndarray:
        """Positions of ``ids`` in ``self.ids``; -1 where absent."""
        if not len(self.ids):
            return np.full(len(ids), -1, np.int64)
        pos = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
        return np.where(self.ids[pos] == ids, pos, -1)

    @property
    def row_size(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 0

    def dead_rows(self) -> int:
        return sum(self.counts) - len(self.ids)


class FeatureStore:
    """Compact, crash-safe trunk-map cache (see module docstring)."""

    def __init__(self, directory: Path, shape: tuple[int, int, int] | None = None) -> None:
        self.directory = Path(directory)
        self.expected_shape = tuple(shape) if shape is not None else None
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._manifest = _Manifest.empty()
        self._manifest_stamp: tuple[int, int] | None = None
        self._maps: dict[str, np.memmap] = {}

    # --- manifest --------------------------------------------------------------------------
    def _refresh(self) -> _Manifest:
        path = self.directory / _MANIFEST
        try:
            st = path.stat()
        except FileNotFoundError:
            self._manifest, self._manifest_stamp = _Manifest.empty(), None
            return self._manifest
        stamp = (st.st_mtime_ns, st.st_ino)
        if stamp != self._manifest_stamp:
            with np.load(path, allow_pickle=False) as data:
                shape = data["shape"] if "shape" in data.files else LEGACY_SHAPE
                self._manifest = _Manifest(
                    data["ids"], data["shard"], data["row"], data["names"], data["counts"], shape
                )
            self._manifest_stamp = stamp
        return self._manifest

    def _commit(self, manifest: _Manifest) -> None:
        buffer = io.BytesIO()
        np.savez(
            buffer,
            ids=manifest.ids,
            shard=manifest.shard,
            row=manifest.row,
            names=np.array(manifest.names, dtype=np.str_),
            counts=np.array(manifest.counts, dtype=np.int64),
            shape=np.array(manifest.shape or (), dtype=np.int64),
        )
        atomic_write(self.directory / _MANIFEST, lambda fh: fh.write(buffer.getvalue()))
        self._manifest_stamp = None
        self._refresh()

    @contextlib.contextmanager
    def _writer(self) -> Iterator[_Manifest]:
        with self._lock, open(self.directory / ".lock", "a+b") as lock_file:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
            try:
                yield self._refresh()
            finally:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)

    # --- shards ----------------------------------------------------------------------------
    def _write_shard(self, rows: np.ndarray) -> str:
        name = f"shard-{secrets.token_hex(8)}.f16"
        data = np.ascontiguousarray(rows, dtype=np.float16)
        atomic_write(self.directory / name, lambda fh: fh.write(data.tobytes()))
        return name

    def _shard(self, name: str, count: int, row_size: int) -> np.memmap:
        mm = self._maps.get(name)
        if mm is None:
            mm = np.memmap(
                self.directory / name, dtype=np.float16, mode="r", shape=(count, row_size)
            )
            self._maps[name] = mm
        return mm

    # --- public API ------------------------------------------------------------------------
    def put(self, ids: Any, feats: Any) -> None:
        """Store ``feats`` (N, C, H, W) under ``ids``, replacing existing entries."""
        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        feats = np.asarray(feats)
        if feats.ndim != 4 or len(feats) != len(ids):
            raise ValueError(f"feats must be ({len(ids)}, C, H, W), got {feats.shape}")
        if self.expected_shape is not None and feats.shape[1:] != self.expected_shape:
            raise ValueError(
                f"feats must be ({len(ids)}, {', '.join(map(str, self.expected_shape))}), "
                f"got {feats.shape}"
            )
        if len(np.unique(ids)) != len(ids):
            raise ValueError("ids must be unique within one put()")
        if not len(ids):
            return
        if not np.isfinite(feats).all():
            raise ValueError("features must be finite")
        with self._writer() as current:
            shape = tuple(int(v) for v in feats.shape[1:])
            if len(current.ids) and current.shape != shape:
                raise ValueError(f"this store holds {current.shape} maps, got {shape}")
            name = self._write_shard(feats.reshape(len(ids), -1))
            # Entries being replaced leave the manifest; their old rows become dead.
            keep_all = np.ones(len(current.ids), bool)
            replaced = current.locate(ids)
            keep_all[replaced[replaced >= 0]] = False
            new = _Manifest(
                np.concatenate([current.ids[keep_all], ids]),
                np.concatenate(
                    [current.shard[keep_all], np.full(len(ids), len(current.names), np.int32)]
                ),
                np.concatenate([current.row[keep_all], np.arange(len(ids), dtype=np.int64)]),
                [*current.names, name],
                [*current.counts, len(ids)],
                shape,
            )
            self._commit(new)
            self._maybe_compact(new)

    def delete(self, ids: Any) -> int:
        """Forget ``ids`` (unknown ones are ignored); returns how many were present."""
        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        with self._writer() as current:
            pos = current.locate(ids)
            pos = np.unique(pos[pos >= 0])
            if not len(pos):
                return 0
            keep = np.ones(len(current.ids), bool)
            keep[pos] = False
            new = _Manifest(
                current.ids[keep],
                current.shard[keep],
                current.row[keep],
                current.names,
                current.counts,
                current.shape,
            )
            self._commit(new)
            self._maybe_compact(new)
            return len(pos)

    def get(self, ids: Any) -> np.ndarray:
        """float32 (N, C, H, W) for ``ids`` in order; ``KeyError`` if one is absent."""
        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        for attempt in range(2):
            with self._lock:
                manifest = self._refresh()
                pos = manifest.locate(ids)
                if (pos < 0).any():
                    raise KeyError(int(ids[np.flatnonzero(pos < 0)[0]]))
                try:
                    return self._gather(manifest, pos)
                except FileNotFoundError:
                    # A compaction in another process removed a shard after we read the
                    # manifest: read the new manifest once more.
                    if attempt:
                        raise
                    self._manifest_stamp = None
        raise AssertionError("unreachable")

    def _gather(self, manifest: _Manifest, pos: np.ndarray) -> np.ndarray:
        shape = manifest.shape or self.expected_shape or LEGACY_SHAPE
        out = np.empty((len(pos), int(np.prod(shape))), np.float32)
        shard_of = manifest.shard[pos]
        for s in np.unique(shard_of):
            sel = np.flatnonzero(shard_of == s)
            mm = self._shard(manifest.names[s], manifest.counts[s], manifest.row_size)
            out[sel] = mm[manifest.row[pos[sel]]]
        return out.reshape(len(pos), *shape)

    def ids(self) -> np.ndarray:
        """All stored ids, sorted ascending (int64)."""
        with self._lock:
            return self._refresh().ids.copy()

    def __len__(self) -> int:
        with self._lock:
            return len(self._refresh().ids)

    def __contains__(self, item: int) -> bool:
        with self._lock:
            return bool(self._refresh().locate(np.array([int(item)], np.int64))[0] >= 0)

    # --- maintenance -----------------------------------------------------------------------
    def _maybe_compact(self, manifest: _Manifest) -> None:
        dead = manifest.dead_rows()
        if len(manifest.names) > _MAX_SHARDS or (dead > 1024 and dead > len(manifest.ids)):
            self._compact_locked(manifest)

    def compact(self) -> None:
        """Rewrite live entries into one shard and delete unreferenced files."""
        with self._writer() as current:
            self._compact_locked(current)

    def _compact_locked(self, manifest: _Manifest) -> None:
        live = manifest.ids
        if len(live):
            rows = self._gather(manifest, np.arange(len(live))).reshape(len(live), -1)
            name = self._write_shard(rows)
            new = _Manifest(
                live,
                np.zeros(len(live), np.int32),
                np.arange(len(live)),
                [name],
                [len(live)],
                manifest.shape,
            )
        else:
            new = _Manifest.empty()
        self._commit(new)
        self._maps = {k: v for k, v in self._maps.items() if k in new.names}
        referenced = set(new.names) | {_MANIFEST, ".lock"}
        for path in self.directory.iterdir():
            if path.name not in referenced and (
                path.name.startswith("shard-") or path.name.endswith(".tmp")
            ):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
