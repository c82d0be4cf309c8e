"""``manage.py sweep_orphans``: delete files no row refers to (crash leftovers)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from psbir_site import orphan_sweep, orphans


class Command(BaseCommand):
    help = (
        "Delete index, head and media files that no database row refers to and that are "
        "older than --min-age-hours (leftovers of crashed jobs). Runs daily on the schedule."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true", help="list, delete nothing")
        parser.add_argument(
            "--min-age-hours",
            type=float,
            default=orphans.DEFAULT_MIN_AGE.total_seconds() / 3600,
            help="only files last written at least this long ago (default 24)",
        )

    def handle(self, *args: Any, dry_run: bool, min_age_hours: float, **options: Any) -> None:
        if min_age_hours < 1:
            # A younger unreferenced file may be a live job's, written before its row commits.
            raise CommandError("--min-age-hours must be at least 1.")
        report = orphan_sweep.sweep_all(min_age=timedelta(hours=min_age_hours), dry_run=dry_run)
        for path in report.files:
            self.stdout.write(str(path))
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(f"{verb} {len(report.files)} orphaned files ({report.bytes} bytes)")
