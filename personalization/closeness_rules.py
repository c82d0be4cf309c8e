"""The closeness rule of the serving general model (personalization.engine.closeness).

Rules are measured per general model (``python -m personalization.lab calibrate-closeness``)
and stored in ``personalization/engine/assets/closeness.json`` under the model version the
engine reports. A model without a measured rule gets none: then no feedback reaches any
other search (closeness 0 everywhere), which is safe, and a warning says how to measure one.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from django.conf import settings

from personalization.engine.closeness import CALIBRATION_PATH, ClosenessRule, load_rules

logger = logging.getLogger(__name__)

_cache: dict[tuple[Path, float], dict[str, ClosenessRule]] = {}
_warned: set[str] = set()
_lock = threading.Lock()


def calibration_path() -> Path:
    return Path(settings.PSBIR_CLOSENESS_FILE or CALIBRATION_PATH)


def rule_for(model_version: str) -> ClosenessRule | None:
    """The measured rule of ``model_version``, or None (feedback then stays where it was given)."""
    path = calibration_path()
    try:
        key = (path, path.stat().st_mtime)
    except FileNotFoundError:
        key = (path, -1.0)
    with _lock:
        rules = _cache.get(key)
        if rules is None:
            _cache.clear()
            rules = _cache[key] = load_rules(path)
    rule = rules.get(model_version)
    if rule is None and model_version not in _warned:
        _warned.add(model_version)
        logger.warning(
            "no closeness rule for general model %s in %s: feedback will not personalize "
            "other searches; measure one with python -m "
            "personalization.lab calibrate-closeness",
            model_version,
            path,
        )
    return rule
