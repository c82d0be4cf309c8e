"""Benchmark personalized ranking on synthetic maps: training time, re-scoring recall, latency.

    python -m personalization.lab benchmark [--sizes 1000 15000 100000]
        [--recall-sizes 1000 15000] [--paper-samples] [--threads 1] [--out results.json]

What each figure is: :mod:`personalization.lab.benchmark`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from personalization.lab.benchmark import measure
from retrieval.lab.options import add_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--sizes", type=int, nargs="+", default=[1000, 15000, 100000])
    add("--recall-sizes", type=int, nargs="*", default=[1000, 15000])
    add("--store-limit", type=int, default=15000)
    add("--paper-samples", action="store_true", help="also train with 100")
    add(
        "--no-training",
        action="store_true",
        help="skip training; recall and latency use an untrained head (latency only then)",
    )
    add_options(parser, "threads", threads=1)
    add("--out", type=Path, help="also write the report here")


def run(args: argparse.Namespace) -> int:
    report = measure(args)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    return 0
