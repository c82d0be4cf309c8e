"""The interface every vector store implements (see the package docstring)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from retrieval.models import ImageLibrary


@dataclass(frozen=True)
class Nearest:
    """Photos nearest to one query vector: ids int64 and Euclidean distances float32,
    ascending; only photos that still exist."""

    ids: np.ndarray
    distances: np.ndarray

    @classmethod
    def empty(cls) -> Nearest:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.float32))


class VectorStore(Protocol):
    """General vectors of libraries' photos, by photo id.

    Writes are made inside the caller's transaction, which holds the library's row lock
    (:mod:`retrieval.services.indexing`); they return how many vectors the library then has.
    Reads take the tenant's libraries (the caller checked they are of one model version).
    """

    name: str

    def write(
        self,
        library: ImageLibrary,
        image_ids: np.ndarray,
        vectors: np.ndarray,
        *,
        model_version: str,
        replace_all: bool,
    ) -> int:
        """Add (or replace) these vectors; with ``replace_all`` they become the library's
        only ones."""
        ...

    def remove(self, library: ImageLibrary, image_ids: np.ndarray) -> int:
        """Take these photos' vectors out (unknown ids are ignored)."""
        ...

    def drop(self, library: ImageLibrary) -> None:
        """Forget every vector of the library (it moved to another store)."""
        ...

    def holds(self, library: ImageLibrary) -> bool:
        """Whether the library has served vectors in this store."""
        ...

    def ids(self, library: ImageLibrary) -> np.ndarray:
        """int64 ids of every photo the library has a served vector for (admins' checks,
        tests; a pass over the whole library)."""
        ...

    def nearest(self, libraries: Sequence[ImageLibrary], vector: np.ndarray, k: int) -> Nearest:
        """The ``k`` nearest photos of ``libraries`` to ``vector``."""
        ...

    def vectors(
        self, libraries: Sequence[ImageLibrary], image_ids: Sequence[int]
    ) -> dict[int, np.ndarray]:
        """float32 vectors of those ``image_ids`` the libraries hold (others are absent)."""
        ...
