"""The daily sweep of crash leftovers over every app's files (the task and the command).

It sits on the site's top floor because it gathers from every app: each app's finders
(``retrieval.orphans``, ``personalization.orphans``) use the primitives of
:mod:`psbir_site.orphans`, which import no app.
"""

from __future__ import annotations

from datetime import timedelta

from personalization.orphans import orphan_head_files
from psbir_site.orphans import DEFAULT_MIN_AGE, Finder, SweepReport, sweep
from retrieval.orphans import orphan_index_files, orphan_media_files

FINDERS: tuple[Finder, ...] = (orphan_index_files, orphan_media_files, orphan_head_files)


def sweep_all(*, min_age: timedelta = DEFAULT_MIN_AGE, dry_run: bool = False) -> SweepReport:
    """Sweep the files of every app (``dry_run``: list them, delete nothing)."""
    return sweep(FINDERS, min_age=min_age, dry_run=dry_run)
