"""On-disk layout of a :class:`~retrieval.engine.index.VectorIndex` (no Django here).

Two kinds of file, both written atomically (temp file in the same folder + ``os.replace``)
and never modified afterwards:

- a **manifest** (the file a caller names, e.g. ``<version>-<token>.faiss``): magic
  ``PSBIR-VECTOR-INDEX\\x02``, a little-endian u64 header length, a JSON header, then three
  raw arrays: the delta's ids (int64), the delta's vectors (float32, ``dim`` per row) and the
  masked ids (int64: base entries hidden because they were removed or replaced). An exact
  ("flat") index is a manifest with every vector in its delta and no base. The header's
  ``"base"`` names the base file (a bare file name in the same folder), or is null;
- a **base** (``<stem of the manifest that first wrote it>.ivf``): a plain FAISS file
  (``faiss.write_index``) of an inverted-file index, opened with ``faiss.IO_FLAG_MMAP`` so the
  inverted lists stay in the page cache, shared by every process that maps it. Several
  successive manifests reference one base; a base is deleted once no manifest does.

Version 1 files (``PSBIR-VECTOR-INDEX\\x01`` + JSON header + ``faiss.serialize_index`` blob,
the whole index in one file) are still read; they are never written any more.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

MAGIC_V1 = b"PSBIR-VECTOR-INDEX\x01"
MAGIC_V2 = b"PSBIR-VECTOR-INDEX\x02"
BASE_SUFFIX = ".ivf"
_MAGICS = {MAGIC_V1: 1, MAGIC_V2: 2}


def read_header(path: Path) -> tuple[int, dict[str, Any], int]:
    """``(format version, header, offset of the payload)``; reads the header only.

    ``ValueError`` when ``path`` is not an index file."""
    with open(path, "rb") as fh:
        magic = fh.read(len(MAGIC_V1))
        version = _MAGICS.get(magic)
        if version is None:
            raise ValueError(f"{path} is not a PSBIR vector index")
        raw = fh.read(8)
        if len(raw) != 8:
            raise ValueError(f"{path} is truncated")
        (length,) = struct.unpack("<Q", raw)
        data = fh.read(length)
        if len(data) != length:
            raise ValueError(f"{path} is truncated")
    try:
        header = json.loads(data)
    except ValueError as exc:
        raise ValueError(f"{path}: unreadable header ({exc})") from None
    return version, header, len(MAGIC_V1) + 8 + length


def base_name_ok(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and not name.startswith(".")


def base_of(path: Path) -> Path | None:
    """The base file a manifest references (``None``: none, or a version-1 file)."""
    _, header, _ = read_header(path)
    name = header.get("base")
    if not name:
        return None
    if not base_name_ok(name):
        raise ValueError(f"{path}: bad base name {name!r}")
    return Path(path).parent / name


def linked_files(path: Path) -> list[Path]:
    """``path`` and the base it references (when readable), for orphan sweeps and deletion."""
    try:
        base = base_of(path)
    except (OSError, ValueError):
        base = None
    return [Path(path)] + ([base] if base is not None else [])


def write_manifest(path: Path, header: dict[str, Any], arrays: list[np.ndarray]) -> None:
    from .checkpoints import atomic_write  # torch comes with it: not needed to read headers

    blob = json.dumps(header).encode()

    def write(fh):
        fh.write(MAGIC_V2)
        fh.write(struct.pack("<Q", len(blob)))
        fh.write(blob)
        for array in arrays:
            array = np.ascontiguousarray(array)
            if array.size:
                fh.write(memoryview(array.reshape(-1)).cast("B"))

    atomic_write(Path(path), write)


def read_arrays(
    path: Path, offset: int, delta: int, dim: int, masked: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The delta ids, delta vectors and masked ids of a version-2 manifest."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read()
    need = delta * 8 + delta * dim * 4 + masked * 8
    if len(data) != need:
        raise ValueError(f"{path}: payload is {len(data)} bytes, header says {need}")
    ids = np.frombuffer(data, np.int64, delta, 0).copy()
    vectors = np.frombuffer(data, np.float32, delta * dim, delta * 8).reshape(delta, dim).copy()
    masked_ids = np.frombuffer(data, np.int64, masked, delta * 8 + delta * dim * 4).copy()
    return ids, vectors, masked_ids


def write_base(path: Path, index: Any) -> None:
    """``faiss.write_index`` to ``path`` atomically (FAISS writes by file name)."""
    import faiss

    from .checkpoints import atomic_fill

    atomic_fill(path, lambda tmp: faiss.write_index(index, tmp))


def copy_base(source: Path, path: Path) -> None:
    import shutil

    from .checkpoints import atomic_fill

    atomic_fill(path, lambda tmp: shutil.copyfile(source, tmp))
