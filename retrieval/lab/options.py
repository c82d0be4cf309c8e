"""The options the lab's jobs share, declared once (``python -m retrieval.lab`` and
``python -m personalization.lab``).

A job adds the ones it takes by name, with its own default where it needs another::

    add_options(parser, "data", "seed", "threads", holdout_categories=0)

Overriding the default of a required option (``data=None``) makes it optional; a job that
needs a required option the table gives a default (``checkpoint=REQUIRED``) says so.
``--threads`` is applied by the command itself (:func:`apply_threads`) before a job runs.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from retrieval.engine.heads import DEFAULT_HEAD_PATH
from retrieval.engine.query_expansion import DEFAULT_NEIGHBOURS
from retrieval.engine.trunks import DEFAULT_TRUNK, TRUNKS
from retrieval.lab.cache import DEFAULT_CACHE_DIR
from retrieval.lab.training.augmented_views import PHOTO_VIEWS, SKETCH_VIEWS

REQUIRED = object()  # an override that makes an option required


@dataclass(frozen=True)
class Option:
    flag: str
    kwargs: dict[str, Any] = field(default_factory=dict)


OPTIONS: dict[str, Option] = {
    "data": Option(
        "--data",
        {"type": Path, "required": True, "help": "dataset folder with photo/ and sketch/"},
    ),
    "seed": Option("--seed", {"type": int, "default": 0, "help": "seed of the splits and draws"}),
    "threads": Option("--threads", {"type": int, "default": 2, "help": "torch CPU threads"}),
    "device": Option("--device", {"default": "auto", "help": "auto, cpu or cuda"}),
    "model_dir": Option(
        "--model-dir",
        {"type": Path, "default": None, "help": "converted VGG-16 weights (default var/models)"},
    ),
    "cache_dir": Option(
        "--cache-dir",
        {
            "type": Path,
            "default": DEFAULT_CACHE_DIR,
            "help": "trunk-map cache shared by training, evaluation, the studies and the "
            f"protocol (default {DEFAULT_CACHE_DIR})",
        },
    ),
    "head": Option(
        "--head", {"type": Path, "default": DEFAULT_HEAD_PATH, "help": "general head checkpoint"}
    ),
    "checkpoint": Option(
        "--checkpoint",
        {"type": Path, "default": DEFAULT_HEAD_PATH, "help": "general head checkpoint"},
    ),
    "trunk": Option("--trunk", {"choices": sorted(TRUNKS), "default": DEFAULT_TRUNK}),
    "edge_method": Option(
        "--edge-method",
        {"choices": ("hed", "canny"), "default": "canny", "help": "photo edges (VGG-16 trunk)"},
    ),
    "holdout_categories": Option(
        "--holdout-categories",
        {"type": int, "default": 20, "help": "categories kept out of training and selection"},
    ),
    "per_category": Option(
        "--per-category",
        {
            "type": int,
            "default": None,
            "help": "first K photos/sketches per category in the cache's balanced order",
        },
    ),
    "query_expansion": Option(
        "--query-expansion",
        {
            "type": int,
            "default": DEFAULT_NEIGHBOURS,
            "metavar": "K",
            "help": f"photos averaged into each query, as search asks "
            f"(default {DEFAULT_NEIGHBOURS}; 0: none)",
        },
    ),
    "no_mirror_queries": Option(
        "--no-mirror-queries",
        {
            "action": "store_true",
            "help": "query vectors without their mirror image (search averages both)",
        },
    ),
    "photo_views": Option(
        "--photo-views",
        {"default": ",".join(PHOTO_VIEWS), "help": "cached augmented views of each photo"},
    ),
    "sketch_views": Option(
        "--sketch-views",
        {"default": ",".join(SKETCH_VIEWS), "help": "cached augmented views of each sketch"},
    ),
    "json": Option(
        "--json", {"type": Path, "default": None, "help": "also write the JSON report here"}
    ),
    "no_progress": Option("--no-progress", {"action": "store_true", "help": "no progress bars"}),
}

# What every study of the asked training split takes (retrieval.lab.asked_split).
ASKED_SPLIT = (
    "data",
    "head",
    "model_dir",
    "cache_dir",
    "seed",
    "holdout_categories",
    "threads",
    "query_expansion",
    "no_progress",
)


def add_options(
    parser: argparse.ArgumentParser,
    *names: str,
    helps: dict[str, str] | None = None,
    **defaults: Any,
) -> None:
    """Add the named :data:`OPTIONS` to ``parser``; ``name=value`` overrides a default,
    ``helps={name: text}`` a help text."""
    unknown = (set(names) | set(defaults) | set(helps or {})) - set(OPTIONS)
    unused = (set(defaults) | set(helps or {})) - set(names)
    if unknown or unused:
        raise ValueError(f"unknown options {sorted(unknown)}, overrides of others {sorted(unused)}")
    for name in names:
        option = OPTIONS[name]
        kwargs = dict(option.kwargs)
        if name in defaults:
            if defaults[name] is REQUIRED:
                kwargs.pop("default", None)
                kwargs["required"] = True
            else:
                kwargs.pop("required", None)
                kwargs["default"] = defaults[name]
        if helps and name in helps:
            kwargs["help"] = helps[name]
        parser.add_argument(option.flag, **kwargs)


def add_asked_split_options(parser: argparse.ArgumentParser, **defaults: Any) -> None:
    """The options of a study of the asked training split (:data:`ASKED_SPLIT`)."""
    add_options(parser, *ASKED_SPLIT, **defaults)


def apply_threads(args: argparse.Namespace) -> None:
    """``--threads``: torch's CPU threads for this process (at least one)."""
    threads = getattr(args, "threads", None)
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))
