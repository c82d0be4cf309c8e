"""The one engine per process, built lazily from settings.

Building an :class:`~retrieval.engine.pipeline.Engine` loads the trunk weights (tens to hundreds
of MB), so every web and worker process builds it once, on first use, and keeps it. Tests swap in
another engine with :func:`set_engine`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from retrieval.engine.pipeline import Engine

_engine: Engine | None = None
_lock = threading.Lock()


def build_engine() -> Engine:
    """A new engine from ``PSBIR_MODEL_DIR``, ``PSBIR_DEVICE``, ``PSBIR_GENERAL_HEAD``,
    ``PSBIR_EDGE_METHOD`` and ``PSBIR_MIRROR_QUERIES``."""
    # Imported here so that Django start-up (migrations, admin commands) never imports torch.
    from retrieval.engine.pipeline import Engine, EngineConfig

    # The head's checkpoint names its trunk and, for edge trunks, the edge method it was
    # trained with; PSBIR_EDGE_METHOD overrides the latter only when an operator sets it.
    config = EngineConfig(
        model_dir=settings.PSBIR_MODEL_DIR,
        head_path=getattr(settings, "PSBIR_GENERAL_HEAD", None) or None,
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
