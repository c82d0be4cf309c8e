"""Searching in tests: one POST /api/search/ that must succeed, and what the vector store
serves (the vectors a search compares with)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.retrieval.fakes import circle_strokes


def post_search(client: Any, *, strokes: dict | None = None, top_k: int = 4, **extra: Any) -> dict:
    """POST a search (a drawn circle unless ``strokes``), assert it was stored (201), and
    return its JSON; ``extra`` goes into the body (``libraries``, ``personal_weight``...)."""
    body = {"strokes": strokes or circle_strokes(), "top_k": top_k, **extra}
    response = client.post("/api/search/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def served_vectors(library: Any) -> tuple[np.ndarray, np.ndarray]:
    """(ids, float32 vectors) of every photo the library's vector store serves, as searches
    read them (FAISS file or pgvector rows)."""
    from retrieval import vector_stores

    store = vector_stores.active_store()
    ids = store.ids(library)
    found = store.vectors([library], ids.tolist())
    return ids, np.stack([found[int(i)] for i in ids])
