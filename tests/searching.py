"""Searching through the HTTP API in tests: one POST /api/search/ that must succeed."""

from __future__ import annotations

from typing import Any

from tests.retrieval.fakes import circle_strokes


def post_search(client: Any, *, strokes: dict | None = None, top_k: int = 4, **extra: Any) -> dict:
    """POST a search (a drawn circle unless ``strokes``), assert it was stored (201), and
    return its JSON; ``extra`` goes into the body (``libraries``, ``personal_weight``...)."""
    body = {"strokes": strokes or circle_strokes(), "top_k": top_k, **extra}
    response = client.post("/api/search/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()
