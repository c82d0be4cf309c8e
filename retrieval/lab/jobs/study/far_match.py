"""The far-match threshold of a general head, measured on the training split.

    python -m retrieval.lab study far-match --data ../shared/data/sketchy-mini \
        [--head PATH] [--seed 0] [--holdout-categories 20] [--flag-rate 0.01]
        [--demo retrieval/demo_library] [--json PATH] [--write]

What is measured: :mod:`retrieval.lab.studies.far_match`. ``--write`` stores the threshold
in ``retrieval/engine/assets/far_match.json`` (``--out``) under the head's model version.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from retrieval.engine.far_match import FAR_MATCH_PATH, save_rule
from retrieval.lab.options import add_asked_split_options, add_options
from retrieval.lab.reports import emit_json
from retrieval.lab.studies.far_match import measure


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add_asked_split_options(parser)
    add("--flag-rate", type=float, default=0.01, help="share of real matches flagged")
    add("--small-categories", type=int, default=12, help="categories of a small library")
    add("--small-draws", type=int, default=3, help="small libraries drawn per sketch")
    add("--demo", type=Path, default=None, help="also check on this demo library folder")
    add_options(parser, "json")
    add("--write", action="store_true", help=f"store the threshold in {FAR_MATCH_PATH.name}")
    add("--out", type=Path, default=FAR_MATCH_PATH)


def run(args: argparse.Namespace) -> int:
    rule, report = measure(args)
    if args.write:
        save_rule(rule, args.out)
    emit_json(report, args.json)
    return 0
