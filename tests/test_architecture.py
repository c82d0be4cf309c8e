"""The floors of docs/architecture.md hold: imports run one way.

The rules are import-linter contracts in pyproject.toml (``[tool.importlinter]``): the floors
(the site's infrastructure, accounts, retrieval, personalization, the site assembly) as a
layers contract, accounts on its own, the engines plain torch. This test runs the linter as
``lint-imports`` would and fails with its report, which names the broken contract and the
import chain that breaks it.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import psbir_site

ROOT = Path(__file__).resolve().parents[1]
LINT = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(no_cache=True, no_logo=True))"
)


def _contracts() -> list[dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["contracts"]


def test_imports_keep_the_contracts():
    run = subprocess.run(
        [sys.executable, "-c", LINT], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, f"An import breaks the floors (docs/architecture.md):\n{report}"
    assert "0 broken" in report, report


def test_every_module_of_the_site_package_is_on_a_floor():
    """psbir_site is two floors (shared infrastructure at the bottom, the assembly on top): a
    new module of it must be put on one of them in the floors contract, or it is unchecked."""
    floors = next(c for c in _contracts() if c["id"] == "floors")
    placed = {
        name.strip().strip("()")
        for layer in floors["layers"]
        for name in layer.split(":")
        if name.strip().strip("()").startswith("psbir_site.")
    }
    modules = {f"psbir_site.{m.name}" for m in pkgutil.iter_modules(psbir_site.__path__)}
    assert modules - placed == set(), "put these on a floor in pyproject.toml"
    assert placed - modules == set(), "these are on a floor but do not exist"
