"""The one engine per process, built lazily from settings.

Building an :class:`~retrieval.engine.pipeline.Engine` loads the trunk weights (tens to hundreds
of MB), so every web and worker process builds it once, on first use, and keeps it. Tests swap in
another engine with :func:`set_engine`.

A web process started with ``PSBIR_PRELOAD_MODEL=1`` (``scripts/start.sh`` sets it) builds and
warms the engine in a background thread at start-up (:func:`start_warm_up`): the server
answers at once and the first search costs what the others do (it took 8 s when the model was
loaded by the first search). ``/healthz`` says when search is ready.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from retrieval.engine.pipeline import Engine

logger = logging.getLogger(__name__)

_engine: Engine | None = None
_lock = threading.Lock()
_warm_up: dict[str, Any] = {"started": False, "seconds": None, "error": None}
_warmed = threading.Event()
_warm_lock = threading.Lock()  # not _lock: the warm-up thread holds that while it builds
# A tiny drawing: one pass through trunk, head and mirror loads every kernel search uses.
_WARM_UP_STROKES = {
    "width": 100,
    "height": 100,
    "strokes": [{"points": [[20, 20], [80, 80], [20, 80]], "width": 4.0, "erase": False}],
}


def build_engine() -> Engine:
    """A new engine from ``PSBIR_MODEL_DIR``, ``PSBIR_DEVICE``, ``PSBIR_GENERAL_HEAD``,
    ``PSBIR_EDGE_METHOD`` and ``PSBIR_MIRROR_QUERIES``."""
    # Imported here so that Django start-up (migrations, admin commands) never imports torch.
    from retrieval.engine.pipeline import Engine, EngineConfig

    # The head's checkpoint names its trunk and, for edge trunks, the edge method it was
    # trained with; PSBIR_EDGE_METHOD overrides the latter only when an operator sets it.
    config = EngineConfig(
        model_dir=settings.PSBIR_MODEL_DIR,
        head_path=settings.PSBIR_GENERAL_HEAD or None,
        device=settings.PSBIR_DEVICE,
        edge_method=settings.PSBIR_EDGE_METHOD or None,
        mirror_queries=settings.PSBIR_MIRROR_QUERIES,
    )
    return Engine(config)


def get_engine() -> Engine:
    """The process-wide engine; built on the first call (thread-safe)."""
    global _engine
    if _engine is None:
        with _lock:
            if _engine is None:
                _engine = build_engine()
    return _engine


def set_engine(engine: Engine | None) -> None:
    """Replace the process-wide engine (``None``: build from settings on next use)."""
    global _engine
    with _lock:
        _engine = engine


def start_warm_up() -> None:
    """Build and warm the engine in a daemon thread (once per process)."""
    with _warm_lock:
        if _warm_up["started"]:
            return
        _warm_up["started"] = True
    threading.Thread(target=_warm, name="psbir-engine-warm-up", daemon=True).start()


def _warm() -> None:
    started = time.monotonic()
    try:
        get_engine().embed_sketch_strokes(_WARM_UP_STROKES)
    except Exception as exc:  # the first search then reports the problem to its user
        _warm_up["error"] = f"{type(exc).__name__}: {exc}"
        logger.exception("the search model could not be loaded at start-up")
        return
    _warm_up["seconds"] = round(time.monotonic() - started, 2)
    _warmed.set()
    logger.info("search is ready: the model loaded in %.1f s", _warm_up["seconds"])


def search_state() -> dict[str, Any]:
    """For /healthz: is the engine built (and warmed, where warm-up ran)?"""
    return {
        "search_ready": _engine is not None and (_warmed.is_set() or not _warm_up["started"]),
        "model_load_seconds": _warm_up["seconds"],
        "model_error": _warm_up["error"],
    }
