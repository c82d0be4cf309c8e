"""Train the general model's head (the one training command) and write it atomically.

    python -m retrieval.lab train --data DIR --out PATH
        [--trunk efficientnet_lite2|efficientnet_lite0|vgg16_hed] [--epochs N]
        [--holdout-categories 20] [--val-categories 0] [--per-category K] [--seed 0]
        [--device cuda]

Prints the last epoch's figures as JSON. The splits, the recipes and what the checkpoint
records: :mod:`retrieval.lab.training.general_head`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from retrieval.lab.options import add_options
from retrieval.lab.training import general_head
from retrieval.lab.training.conv6_recipes import RECIPES, RecipeConfig
from retrieval.lab.training.view_recipe import ViewRecipe


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = RecipeConfig()
    views = ViewRecipe()
    add = parser.add_argument
    add_options(parser, "data")
    add("--out", type=Path, required=True, help="head checkpoint to write")
    add_options(parser, "trunk")
    add("--recipe", choices=RECIPES, default=defaults.recipe, help="vgg16_hed trunk only")
    add("--epochs", type=int, default=None, help=f"default {views.epochs} ({defaults.epochs} VGG)")
    add("--batch-size", type=int, default=None)
    add("--lr", type=float, default=None)
    add("--temperature", type=float, default=None)
    add("--pretrained-lr-scale", type=float, default=views.pretrained_lr_scale)
    add("--joint-weight", type=float, default=views.joint_weight)
    add("--cls-weight", type=float, default=defaults.cls_weight)
    add("--pp-weight", type=float, default=defaults.pp_weight)
    add("--instance-rate", type=float, default=defaults.instance_rate)
    add_options(parser, "photo_views", "sketch_views")
    add("--init", choices=("bootstrap", "random"), default=defaults.init)
    add_options(parser, "seed", "holdout_categories")
    add("--val-categories", type=int, default=0, help="training categories used to select")
    add_options(
        parser, "per_category", "edge_method", "model_dir", "cache_dir", "device", "threads"
    )
    add("--metrics-json", type=Path, default=None, help="write per-epoch validation here")
    add_options(parser, "no_progress")


def run(args: argparse.Namespace) -> int:
    metadata = general_head.train(args)
    last = metadata["history"][-1] if metadata["history"] else {}
    print(json.dumps({"out": str(args.out), "seconds": metadata["seconds"], **last}))
    return 0
