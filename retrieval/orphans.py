"""Index and media files no row refers to (see :mod:`psbir_site.orphans`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from django.conf import settings

from psbir_site.orphans import unreferenced
from retrieval import index_store
from retrieval.models import ImageLibrary, LibraryImage, SketchQuery

INDEX_PATTERNS = (
    "tenant-*/library-*/*.faiss",  # manifests (and whole indexes of the first format)
    "tenant-*/library-*/*.ivf",  # bases, shared by the manifests that name them
    "tenant-*/library-*/.*.tmp",
)
MEDIA_PATTERNS = (
    "tenants/*/libraries/*/photos/*",
    "tenants/*/libraries/*/edges/*",
    "tenants/*/libraries/*/thumbs/*",
    "tenants/*/sketches/*",
)


def orphan_index_files(min_age: timedelta) -> Iterator[Path]:
    # A maintenance sweep over every tenant's files: it compares paths, it serves nothing.
    root = Path(settings.PSBIR_INDEX_DIR)
    served = {
        index_store.index_path(name)
        for name in ImageLibrary.objects.exclude(index_file="").values_list("index_file", flat=True)
    }
    referenced = set(served)
    # A base stays while a served manifest names it, or a manifest young enough to be a live
    # job's (written, its pointer swap not committed yet; it goes with its manifest later).
    cutoff = time.time() - min_age.total_seconds()
    for manifest in root.glob(INDEX_PATTERNS[0]):
        try:
            if manifest.resolve() in served or manifest.stat().st_mtime > cutoff:
                referenced.update(index_store.linked_index_files(manifest))
        except FileNotFoundError:
            continue
    yield from unreferenced(root, INDEX_PATTERNS, referenced, min_age)


def orphan_media_files(min_age: timedelta) -> Iterator[Path]:
    root = Path(settings.MEDIA_ROOT).resolve()
    names: set[str] = set()
    for row in LibraryImage.objects.values_list("photo", "edge_map", "thumbnail"):
        names.update(name for name in row if name)
    names.update(
        SketchQuery.objects.exclude(sketch_image="").values_list("sketch_image", flat=True)
    )
    referenced = {(root / name).resolve() for name in names}
    yield from unreferenced(root, MEDIA_PATTERNS, referenced, min_age)
