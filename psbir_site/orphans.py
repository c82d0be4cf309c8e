"""Files nothing refers to any more, left by crashes: found by age and deleted on a schedule.

Every write that matters is atomic (temp file + rename, pointer moved in a transaction), so a
crash never leaves a half file in use, but it can leave files no row points to: a ``*.tmp``
from a write cut short, an index file written by a job killed before its pointer swap
committed, an old index whose deletion was to run after a commit the process did not survive,
a head file whose row was never published, media stored before a row that never committed.
Each app lists its own candidates with :func:`unreferenced` (``retrieval.orphans``,
``personalization.orphans``); :mod:`psbir_site.orphan_sweep`, on the site's top floor, sweeps
them all. Only files older than ``min_age`` go, so a live job's file, written but not yet
referenced, stays.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

logger = logging.getLogger(__name__)

DEFAULT_MIN_AGE = timedelta(hours=24)


def unreferenced(
    root: Path, patterns: Iterable[str], referenced: set[Path], min_age: timedelta
) -> Iterator[Path]:
    """Files under ``root`` matching ``patterns`` that are not in ``referenced`` (resolved
    paths) and were last modified at least ``min_age`` ago."""
    if not root.is_dir():
        return
    cutoff = time.time() - min_age.total_seconds()
    for pattern in patterns:
        for path in root.glob(pattern):
            try:
                old = path.is_file() and path.stat().st_mtime <= cutoff
                if old and path.resolve() not in referenced:
                    yield path
            except FileNotFoundError:  # deleted meanwhile by its owner
                continue


@dataclass
class SweepReport:
    files: list[Path] = field(default_factory=list)
    bytes: int = 0
    deleted: bool = False


Finder = Callable[[timedelta], Iterable[Path]]


def sweep(
    finders: Iterable[Finder],
    *,
    min_age: timedelta = DEFAULT_MIN_AGE,
    dry_run: bool = False,
) -> SweepReport:
    """Delete (``dry_run``: only list) what ``finders`` find older than ``min_age``."""
    report = SweepReport(deleted=not dry_run)
    for finder in finders:
        for path in finder(min_age):
            try:
                size = path.stat().st_size
                if not dry_run:
                    path.unlink()
            except FileNotFoundError:
                continue
            report.files.append(path)
            report.bytes += size
    if report.files and not dry_run:
        logger.warning("deleted %d orphaned files (%d bytes)", len(report.files), report.bytes)
    return report
