"""Run the paper's experiments (section V) on a dataset folder: a thin wrapper.

    python manage.py evaluate --data DIR --out RESULTS_DIR [--seed N]
        [--general-checkpoint PATH | --train-general] [--quick] ...

Same options, code and outputs as ``python -m personalization.lab protocol``
(:mod:`personalization.lab.jobs.protocol`); the model folder and device default to the
site's PSBIR_MODEL_DIR and PSBIR_DEVICE.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from personalization.lab.jobs import protocol
from personalization.lab.protocol.report import text_summary
from retrieval.lab.options import apply_threads


class Command(BaseCommand):
    help = "Reproduce the paper's experiments: report.json + PNG plots in a results folder."

    def add_arguments(self, parser: CommandParser) -> None:
        protocol.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["model_dir"] is None:
            options["model_dir"] = Path(settings.PSBIR_MODEL_DIR)
        if options["device"] == "auto":
            options["device"] = settings.PSBIR_DEVICE
        namespace = argparse.Namespace(**options)
        apply_threads(namespace)
        try:
            report = protocol.report(namespace)
        except (FileNotFoundError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(text_summary(report))
        self.stdout.write(f"report: {Path(options['out']) / 'report.json'}")
