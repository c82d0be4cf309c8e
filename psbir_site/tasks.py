"""django-q2 entry points of the project itself (maintenance)."""

from __future__ import annotations

from psbir_site import orphan_sweep


def sweep_orphans() -> int:
    """The daily schedule's entry point: delete crash leftovers; returns how many."""
    return len(orphan_sweep.sweep_all().files)
