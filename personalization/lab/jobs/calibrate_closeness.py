"""Measure a general head's closeness rule on the training split and store it.

    python -m personalization.lab calibrate-closeness --data ../shared/data/sketchy-mini \
        [--head PATH] [--unseen-head PATH] [--seed 0] [--holdout-categories 20] [--out FILE]

How it is measured: :mod:`personalization.lab.closeness_calibration`. Writes the rule into
``personalization/engine/assets/closeness.json`` (``--out``) under the head's model version
and prints it as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from personalization.engine.closeness import CALIBRATION_PATH, save_rule
from personalization.lab.closeness_calibration import calibrate
from retrieval.lab.options import add_asked_split_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add_asked_split_options(parser)
    add("--out", type=Path, default=CALIBRATION_PATH, help="the calibration file to update")
    add(
        "--unseen-head",
        type=Path,
        default=None,
        help="a head of the same recipe trained with `retrieval.lab train --val-categories N`: "
        "its distances on those N categories (which it never saw) set how far out feedback "
        "counts fully, as users' subjects are new to the served head (see combine())",
    )


def run(args: argparse.Namespace) -> int:
    rule = calibrate(args)
    save_rule(rule, args.out)
    print(json.dumps(rule.to_dict(), indent=2))
    return 0
