"""How to ask a query, measured on the model-selection split only.

    python -m retrieval.lab study query --data DIR --checkpoint SEL.pt [--json PATH]

``SEL.pt`` is a head trained with ``train --val-categories 20``; what is compared:
:mod:`retrieval.lab.studies.query`.
"""

from __future__ import annotations

import argparse

from retrieval.lab.options import REQUIRED, add_options
from retrieval.lab.reports import emit_json
from retrieval.lab.studies.query import study


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(
        parser,
        "data",
        "checkpoint",
        "cache_dir",
        "json",
        "threads",
        checkpoint=REQUIRED,
        helps={"checkpoint": "a selection head (trained with --val-categories)"},
    )


def run(args: argparse.Namespace) -> int:
    emit_json(study(args.data, args.checkpoint, args.cache_dir), args.json, indent=1)
    return 0
