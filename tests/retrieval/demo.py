"""The bundled demo library and the script that builds it, for the tests that check them."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "retrieval" / "demo_library"


def demo_builder() -> ModuleType:
    """``scripts/build_demo_library.py`` loaded as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location(
        "build_demo_library", REPO / "scripts" / "build_demo_library.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
