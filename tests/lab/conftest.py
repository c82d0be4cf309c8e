"""Lab test fixtures: the engine tests' (few torch threads, the converted weights, a
bootstrap head), so that lab tests run as the engine tests do."""

from __future__ import annotations

from tests.engine.conftest import _few_threads, backbone_state, head_path, model_dir

__all__ = ["_few_threads", "backbone_state", "head_path", "model_dir"]
