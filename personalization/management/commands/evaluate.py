"""Run the paper's experiments (section V) on a dataset folder: a thin wrapper.

    python manage.py evaluate --data DIR --out RESULTS_DIR [--seed N]
        [--general-checkpoint PATH | --train-general] [--quick] ...

Same options and outputs as ``python -m personalization.engine.protocol`` (see that module);
the model folder and device default to the site's PSBIR_MODEL_DIR and PSBIR_DEVICE.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from personalization.engine import protocol
from personalization.engine.protocol_report import text_summary


class Command(BaseCommand):
    help = "Reproduce the paper's experiments: report.json + PNG plots in a results folder."

    def add_arguments(self, parser: CommandParser) -> None:
        protocol.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["model_dir"] is None:
            options["model_dir"] = Path(settings.PSBIR_MODEL_DIR)
        if options["device"] == "auto":
            options["device"] = settings.PSBIR_DEVICE
        torch.set_num_threads(max(1, options["threads"]))
        try:
            report = protocol.run_protocol(protocol.config_from_args(argparse.Namespace(**options)))
        except (FileNotFoundError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(text_summary(report))
        self.stdout.write(f"report: {Path(options['out']) / 'report.json'}")
