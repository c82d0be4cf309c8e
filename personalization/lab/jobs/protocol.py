"""Run the paper's experiments (section V): report.json and the PNG plots in a results folder.

    python -m personalization.lab protocol --data DIR --out RESULTS_DIR [--seed N]
        [--general-checkpoint PATH | --train-general] [--quick] [--per-category K] ...

``python manage.py evaluate`` takes the same options and runs the same code (:func:`report`;
its model folder and device default to the site's settings). What each stage does and what
the options trade: :mod:`personalization.lab.protocol.runner`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from personalization.engine.finetune import FinetuneConfig
from personalization.lab.protocol import runner
from personalization.lab.protocol.personal import PAPER_WEIGHTS, PersonalConfig
from personalization.lab.protocol.report import text_summary
from retrieval.engine.heads import DEFAULT_HEAD_PATH
from retrieval.lab.cache import DEFAULT_CACHE_DIR
from retrieval.lab.options import add_options
from retrieval.lab.training.conv6_recipes import RECIPES, RecipeConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The job's options (``manage.py evaluate`` takes the same)."""
    add = parser.add_argument
    add_options(
        parser,
        "data",
        helps={"data": "plain layout folder or a photo library"},
    )
    add("--out", type=Path, required=True, help="results folder (report.json + PNG plots)")
    add_options(parser, "seed")
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--general-checkpoint",
        type=Path,
        default=None,
        help=f"general head to evaluate (default: the shipped {DEFAULT_HEAD_PATH.name})",
    )
    group.add_argument(
        "--train-general",
        action="store_true",
        help="train the general conv6 head here on the training sketches",
    )
    add("--quick", action="store_true", help="smoke run: no VGG, tiny training (see docs)")
    add_options(parser, "per_category")
    add("--min-subcategory-photos", type=int, default=1)
    add_options(
        parser,
        "edge_method",
        "model_dir",
        "cache_dir",
        "device",
        "threads",
        edge_method=None,
        cache_dir=None,
        helps={"cache_dir": f"conv5 cache (default {DEFAULT_CACHE_DIR}; --quick: OUT/cache)"},
    )
    add("--general-recipe", choices=RECIPES, default="nce_cls")
    add("--general-epochs", type=int, default=None)
    add("--no-hog", action="store_true")
    add("--no-personalization", action="store_true", help="the general stage only")
    defaults = PersonalConfig()
    add(
        "--per-branch",
        type=int,
        default=None,
        help=f"eq. 9 samples per branch ({defaults.per_branch})",
    )
    add("--finetune-rounds", type=int, default=None, help="fine-tuning epochs (paper: 20)")
    add("--finetune-batch", type=int, default=FinetuneConfig().batch_size)
    add(
        "--finetune-lr",
        type=float,
        default=FinetuneConfig().lr,
        help="Adam's learning rate (paper: 1e-4; the product's PSBIR_PERSONAL_LR: 3e-4)",
    )
    add(
        "--head-scope",
        choices=("auto", "projection", "full"),
        default="auto",
        help="what a personal head retrains: the final projection (the product's, EfficientNet "
        "heads) or the whole head (the paper's); auto: projection where possible",
    )
    add("--weights", type=float, nargs="+", default=list(PAPER_WEIGHTS))
    add("--feedback-rounds", type=int, default=None, help=f"({defaults.feedback_rounds})")
    add(
        "--rounds-users",
        type=int,
        default=0,
        help="mixed-subject users in the rounds experiment (0: all, one per two sub-categories)",
    )
    add(
        "--off-topic-queries",
        type=int,
        default=defaults.off_topic_queries,
        help="test sketches of untaught categories each rounds user searches",
    )
    add("--table3-users", type=int, default=0, help="users in Table 3 / the w sweep (0: all)")
    add("--shown", type=int, default=defaults.shown, help="results a user looks at per round")
    add("--candidates", type=int, default=0, help="re-score the general top C (0: all)")
    add(
        "--offer-subjects",
        type=int,
        default=defaults.offer_subjects,
        help="earlier searches offered as 'like one of these?' (PSBIR_PERSONAL_OFFER_SUBJECTS)",
    )
    add_options(parser, "query_expansion", "no_mirror_queries", "no_progress")


def config_from_args(args: argparse.Namespace) -> runner.ProtocolConfig:
    quick = bool(args.quick)
    fast = runner.QUICK

    def pick(value, quick_value, default):
        return value if value is not None else (quick_value if quick else default)

    base = PersonalConfig()
    finetune = FinetuneConfig(
        rounds=pick(args.finetune_rounds, fast["finetune_rounds"], FinetuneConfig().rounds),
        batch_size=args.finetune_batch,
        lr=args.finetune_lr,
    )
    personal = PersonalConfig(
        per_branch=pick(args.per_branch, fast["per_branch"], base.per_branch),
        finetune=finetune,
        weights=tuple(sorted(float(w) for w in args.weights)),
        feedback_rounds=pick(args.feedback_rounds, fast["feedback_rounds"], base.feedback_rounds),
        rounds_users=args.rounds_users,
        off_topic_queries=args.off_topic_queries,
        table3_users=args.table3_users,
        shown=args.shown,
        candidates=args.candidates,
        offer_subjects=max(1, args.offer_subjects),
    )
    # A quick run's stand-in features would pollute the shared cache's namespace for nothing.
    cache_dir = args.cache_dir or (args.out / "cache" if quick else DEFAULT_CACHE_DIR)
    return runner.ProtocolConfig(
        data=args.data,
        out=args.out,
        seed=args.seed,
        general_checkpoint=args.general_checkpoint,
        # The shipped head was trained on VGG conv5 maps: meaningless on the stand-in.
        train_general=args.train_general or (quick and args.general_checkpoint is None),
        quick=quick,
        per_category=args.per_category,
        min_subcategory_photos=args.min_subcategory_photos,
        edge_method=args.edge_method,
        model_dir=args.model_dir,
        cache_dir=Path(cache_dir),
        device=args.device,
        general_recipe=args.general_recipe,
        head_scope=args.head_scope,
        query_expansion=max(0, args.query_expansion),
        mirror_queries=not args.no_mirror_queries,
        general_epochs=pick(args.general_epochs, fast["general_epochs"], RecipeConfig().epochs),
        hog=not args.no_hog,
        personalization=not args.no_personalization,
        personal=personal,
        progress=not args.no_progress,
    )


def report(args: argparse.Namespace) -> dict:
    """Run every stage as ``args`` say; returns the report (also written to ``--out``)."""
    return runner.run_protocol(config_from_args(args))


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    result = report(args)
    print(text_summary(result))
    print(f"report: {Path(args.out) / 'report.json'} ({time.monotonic() - started:.0f} s)")
    return 0
