"""Fill the VGG-16 conv5 cache of a dataset in a balanced, resumable order.

    python -m retrieval.lab cache conv5 --data DIR [--edge-method canny] [--limit N]

Round-robin over categories, so stopping at any point leaves a usable, balanced subset:
:mod:`retrieval.lab.cache`.
"""

from __future__ import annotations

import argparse
import sys
import time

from retrieval.engine.pipeline import FeatureExtractor
from retrieval.engine.weights import default_model_dir
from retrieval.lab.cache import warm_cache
from retrieval.lab.data import SketchPhotoDataset
from retrieval.lab.options import add_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(
        parser,
        "data",
        "cache_dir",
        "model_dir",
        "edge_method",
        "device",
        "threads",
        "seed",
        "no_progress",
    )
    parser.add_argument("--limit", type=int, default=None, help="compute at most N maps")


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    extractor = FeatureExtractor(
        model_dir=args.model_dir or default_model_dir(),
        device=args.device,
        edge_method=args.edge_method,
    )
    dataset = SketchPhotoDataset.scan(args.data)
    n = warm_cache(
        dataset,
        extractor,
        args.cache_dir,
        seed=args.seed,
        limit=args.limit,
        progress=not args.no_progress,
    )
    print(f"computed {n} maps in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0
