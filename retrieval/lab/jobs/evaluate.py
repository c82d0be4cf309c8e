"""Category-level retrieval figures of a general head (or ``--baseline hog``) as JSON.

    python -m retrieval.lab evaluate --data DIR [--checkpoint PATH] [--queries all|test]
        [--json PATH] [--holdout-categories N --split seen|unseen] [--per-category K]

Which queries, which gallery and how queries are asked: :mod:`retrieval.lab.evaluation`.
"""

from __future__ import annotations

import argparse

from retrieval.lab.evaluation import evaluate, hog_evaluate
from retrieval.lab.options import add_options
from retrieval.lab.reports import emit_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add_options(parser, "data", "checkpoint")
    add("--queries", choices=("all", "test"), default="all")
    add_options(parser, "json", "holdout_categories", holdout_categories=0)
    add("--split", choices=("seen", "unseen"), default="seen")
    add_options(
        parser,
        "seed",
        "per_category",
        "edge_method",
        "model_dir",
        "cache_dir",
        "device",
        "threads",
        "no_progress",
        "query_expansion",
        "no_mirror_queries",
        edge_method=None,
    )
    add("--baseline", choices=("hog",), default=None, help="rank with HOG instead of a model")


def run(args: argparse.Namespace) -> int:
    split = {
        "data": args.data,
        "queries": args.queries,
        "holdout": args.holdout_categories,
        "split": args.split,
        "seed": args.seed,
    }
    if args.baseline == "hog":
        result = hog_evaluate(**split)
    else:
        result = evaluate(
            **split,
            checkpoint=args.checkpoint,
            per_category=args.per_category,
            edge_method=args.edge_method,
            model_dir=args.model_dir,
            cache_dir=args.cache_dir,
            device=args.device,
            progress=not args.no_progress,
            query_expansion=args.query_expansion,
            mirror_queries=False if args.no_mirror_queries else None,
        )
    emit_json(result, args.json, sort_keys=True)
    return 0
