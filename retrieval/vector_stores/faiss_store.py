"""Vectors in FAISS index files, one per library (the embedded default).

A write never modifies a served file: it writes a new one and moves the (locked) library's
``index_file`` pointer; the old file is deleted once the transaction commits, so a search
always reads one complete index (:mod:`retrieval.index_store`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from django.db import transaction

from retrieval import index_store
from retrieval.models import ImageLibrary, LibraryImage

from .base import Nearest


def served(library: ImageLibrary) -> Any:
    """The library's served index, read again once if its pointer moved meanwhile."""
    try:
        return index_store.served_index(library)
    except FileNotFoundError:
        # The pointer moved after we read it and the old file is gone: read it again.
        library.refresh_from_db(fields=["index_file", "model_version", "index_size"])
        return index_store.served_index(library)


class FaissStore:
    name = "faiss"

    # --- writes (the caller holds the library's row lock) ----------------------------------
    def write(
        self,
        library: ImageLibrary,
        image_ids: np.ndarray,
        vectors: np.ndarray,
        *,
        model_version: str,
        replace_all: bool,
    ) -> int:
        if library.index_file and not replace_all:
            index = index_store.read_index(library.index_file)
        else:
            index = index_store.empty_index()
        if len(image_ids):
            index.add(np.asarray(image_ids, dtype=np.int64), vectors)  # replaces ids present
        self._swap(library, index, model_version)
        return len(index)

    def remove(self, library: ImageLibrary, image_ids: np.ndarray) -> int:
        if not library.index_file:
            return 0
        index = index_store.read_index(library.index_file)
        index.remove(np.asarray(image_ids, dtype=np.int64))
        self._swap(library, index, library.model_version)
        return len(index)

    def drop(self, library: ImageLibrary) -> None:
        old, library.index_file = library.index_file, ""
        if old:
            transaction.on_commit(lambda: index_store.delete_index(old))

    def _swap(self, library: ImageLibrary, index: Any, model_version: str) -> None:
        old = library.index_file
        # Saved inside the file too, so a file found on disk says which model wrote it.
        index.metadata.update(model_version=model_version, library_id=library.pk)
        library.index_file = index_store.write_index(index, library, model_version)
        if old:
            transaction.on_commit(lambda: index_store.delete_index(old))

    # --- reads -----------------------------------------------------------------------------
    def holds(self, library: ImageLibrary) -> bool:
        return bool(library.index_file)

    def ids(self, library: ImageLibrary) -> np.ndarray:
        if not library.index_file:
            return np.zeros(0, np.int64)
        return np.asarray(served(library).ids(), dtype=np.int64)

    def nearest(self, libraries: Sequence[ImageLibrary], vector: np.ndarray, k: int) -> Nearest:
        """Each library's index searched on its own, the answers merged by distance; ids
        whose photo was deleted since the index was written are dropped."""
        found_ids, found_dist = [], []
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        for library in libraries:
            if not library.index_file:
                continue
            index = served(library)
            if len(index) == 0:
                continue
            distances, ids = index.search(query, k)
            distances, ids = np.asarray(distances).reshape(-1), np.asarray(ids).reshape(-1)
            keep = ids >= 0  # FAISS pads with -1 when an index holds fewer than k vectors
            found_ids.append(ids[keep].astype(np.int64))
            found_dist.append(distances[keep].astype(np.float32))
        if not found_ids:
            return Nearest.empty()
        ids = np.concatenate(found_ids)
        distances = np.concatenate(found_dist)
        order = np.argsort(distances, kind="stable")[:k]
        ids, distances = ids[order], distances[order]
        alive = set(
            LibraryImage.objects.for_tenant(libraries[0].tenant_id)
            .filter(pk__in=ids.tolist(), library__in=[library.pk for library in libraries])
            .values_list("pk", flat=True)
        )
        keep = np.array([int(i) in alive for i in ids], dtype=bool)
        return Nearest(ids=ids[keep], distances=distances[keep])

    def vectors(
        self, libraries: Sequence[ImageLibrary], image_ids: Sequence[int]
    ) -> dict[int, np.ndarray]:
        """Each photo looked up in its own library's index (found through its row: no
        scan of an index's ids, which costs a pass over a million-photo index)."""
        by_pk = {library.pk: library for library in libraries}
        if not by_pk or not len(image_ids):
            return {}
        pairs = (
            LibraryImage.objects.for_tenant(libraries[0].tenant_id)
            .filter(pk__in=[int(i) for i in image_ids], library__in=list(by_pk))
            .values_list("pk", "library_id")
        )
        ids_of: dict[int, list[int]] = {}
        for image_id, library_id in pairs:
            ids_of.setdefault(library_id, []).append(image_id)
        out: dict[int, np.ndarray] = {}
        for library_id, ids in ids_of.items():
            library = by_pk[library_id]
            if not library.index_file:
                continue  # not indexed (yet): no stored vectors
            try:
                index = served(library)
            except FileNotFoundError:
                continue
            try:  # one read for all of them (200 a personalized search)
                out.update(zip(ids, index.vectors(np.array(ids, dtype=np.int64)), strict=True))
            except KeyError:  # some are not in the index (yet): read those that are
                for image_id in ids:
                    try:
                        out[image_id] = index.vectors(np.array([image_id], dtype=np.int64))[0]
                    except KeyError:
                        continue
        return out
