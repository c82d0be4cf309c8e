"""Index and media files no row refers to (see :mod:`psbir_site.orphans`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from django.conf import settings

from psbir_site.orphans import unreferenced
from retrieval import index_store
from retrieval.models import ImageLibrary, LibraryImage, SketchQuery

INDEX_PATTERNS = ("tenant-*/library-*/*.faiss", "tenant-*/library-*/.*.tmp")
MEDIA_PATTERNS = (
    "tenants/*/libraries/*/photos/*",
    "tenants/*/libraries/*/edges/*",
    "tenants/*/libraries/*/thumbs/*",
    "tenants/*/sketches/*",
)


def orphan_index_files(min_age: timedelta) -> Iterator[Path]:
    # A maintenance sweep over every tenant's files: it compares paths, it serves nothing.
    served = {
        index_store.index_path(name)
        for name in ImageLibrary.objects.exclude(index_file="").values_list("index_file", flat=True)
    }
    yield from unreferenced(Path(settings.PSBIR_INDEX_DIR), INDEX_PATTERNS, served, min_age)


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
