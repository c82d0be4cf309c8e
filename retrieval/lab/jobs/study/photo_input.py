"""Photos into an RGB trunk as they are, or as edge maps (the paper's III.B), measured.

    python -m retrieval.lab study photo-input --data DIR
        [--trunk efficientnet_lite2] [--holdout-categories 20] [--json PATH]

What is compared on which split: :mod:`retrieval.lab.studies.photo_input`.
"""

from __future__ import annotations

import argparse

from retrieval.engine.trunks import DEFAULT_TRUNK, TRUNKS
from retrieval.lab.options import add_options
from retrieval.lab.reports import emit_json
from retrieval.lab.studies.photo_input import study


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, "data")
    parser.add_argument(
        "--trunk",
        choices=sorted(n for n in TRUNKS if n != "vgg16_hed"),
        default=DEFAULT_TRUNK,
        help="an RGB trunk (photos go in as edge maps too, for comparison)",
    )
    add_options(parser, "checkpoint", "holdout_categories", "seed", "cache_dir", "threads", "json")


def run(args: argparse.Namespace) -> int:
    report = study(
        args.data,
        trunk=args.trunk,
        checkpoint=args.checkpoint,
        holdout=args.holdout_categories,
        seed=args.seed,
        cache_dir=args.cache_dir,
    )
    emit_json(report, args.json, indent=1)
    return 0
