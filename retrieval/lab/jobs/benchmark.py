"""Speed and accuracy of the VGG-16 (paper) engine path; writes docs/benchmarks-vgg16.md.

    python -m retrieval.lab benchmark [--data DIR] [--photos 20] [--sketches 6]
        [--sizes 1000,15000,100000] [--threads 1] [--out docs/benchmarks-vgg16.md]

What each table measures: :mod:`retrieval.lab.benchmark`. (Search and indexing speed through
the services: ``python scripts/search_benchmark.py``.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from retrieval.engine.heads import VGG16_HEAD_PATH
from retrieval.engine.weights import repo_root
from retrieval.lab.benchmark import report
from retrieval.lab.options import add_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add_options(
        parser,
        "data",
        "model_dir",
        "head",
        "threads",
        data=None,
        head=VGG16_HEAD_PATH,
        threads=1,
        helps={
            "data": "take the first photo and sketch of each category of this folder "
            "(default: synthetic drawings)",
            "threads": "torch intra-op threads (1: on a shared 2-core machine OpenMP threads "
            "spin on busy cores and are slower than one)",
        },
    )
    add("--photos", type=int, default=20)
    add("--sketches", type=int, default=6)
    add("--sizes", default="1000,15000,100000")
    add("--out", type=Path, default=repo_root() / "docs" / "benchmarks-vgg16.md")


def run(args: argparse.Namespace) -> int:
    text = report(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0
