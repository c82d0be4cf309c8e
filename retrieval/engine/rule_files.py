"""JSON files of measured serving rules, one entry per general model version.

``{"rules": [{"head": "<model version>", ...}, ...]}``: what personalization's closeness and
the far-match note read at run time and their measuring commands write.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_entries(path: Path) -> list[dict[str, Any]]:
    """The entries of ``path``; [] when the file is absent."""
    path = Path(path)
    if not path.is_file():
        return []
    return list(json.loads(path.read_text()).get("rules", []))


def write_entry(path: Path, entry: dict[str, Any]) -> None:
    """Add ``entry`` to ``path``, replacing the one of the same ``head``."""
    path = Path(path)
    rules = [e for e in read_entries(path) if e.get("head") != entry["head"]]
    rules.append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"rules": rules}, indent=2, sort_keys=True) + "\n")
