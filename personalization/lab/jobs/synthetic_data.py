"""Write a tiny synthetic sketch/photo dataset with sub-categories (for smoke runs).

    python -m personalization.lab synthetic-data OUT [--seed 0] [--photos 6] [--sketches 5]

What it draws: :mod:`personalization.lab.synthetic_dataset`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from personalization.lab.synthetic_dataset import make_synthetic_dataset
from retrieval.lab.options import add_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("out", type=Path)
    add_options(parser, "seed")
    add("--photos", type=int, default=6, help="photos per parent")
    add("--sketches", type=int, default=5, help="sketches per parent")


def run(args: argparse.Namespace) -> int:
    make_synthetic_dataset(args.out, photos=args.photos, sketches=args.sketches, seed=args.seed)
    print(args.out)
    return 0
