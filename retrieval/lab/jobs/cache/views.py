"""Cache the trunk maps of every image of a dataset in its augmented views (what train reads).

    python -m retrieval.lab cache views --data DIR [--trunk efficientnet_lite2]
        [--photo-views orig,flip,crop] [--sketch-views orig,flip,thick,zoom]

The views and the cache layout: :mod:`retrieval.lab.training.augmented_views`. A rerun
computes only what is missing.
"""

from __future__ import annotations

import argparse
import sys
import time

from retrieval.engine.pipeline import FeatureExtractor
from retrieval.engine.weights import default_model_dir
from retrieval.lab.data import SketchPhotoDataset
from retrieval.lab.options import add_options
from retrieval.lab.training.augmented_views import warm_views


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(
        parser,
        "data",
        "trunk",
        "cache_dir",
        "model_dir",
        "edge_method",
        "photo_views",
        "sketch_views",
        "device",
        "threads",
        "seed",
        "no_progress",
    )


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    extractor = FeatureExtractor(
        model_dir=args.model_dir or default_model_dir(),
        trunk=args.trunk,
        device=args.device,
        edge_method=args.edge_method,
        batch_size=32,
    )
    dataset = SketchPhotoDataset.scan(args.data)
    n = warm_views(
        dataset,
        extractor,
        args.cache_dir,
        photo_views=tuple(v for v in args.photo_views.split(",") if v),
        sketch_views=tuple(v for v in args.sketch_views.split(",") if v),
        seed=args.seed,
        progress=not args.no_progress,
    )
    print(f"computed {n} maps in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0
