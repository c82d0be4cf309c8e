"""The JSON a measuring command prints and, with ``--json PATH``, also writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def emit_json(
    report: Any, path: Path | None = None, *, indent: int = 2, sort_keys: bool = False
) -> None:
    """Print ``report`` as JSON on stdout; write the same text to ``path`` when given."""
    text = json.dumps(report, indent=indent, sort_keys=sort_keys)
    print(text)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text + "\n")
