"""The lab's command line: one command per app, one sub-command per job.

A *job* is a module with ``add_arguments(parser)`` and ``run(args) -> int | None`` (the exit
status; None is 0) whose docstring says what it does (its first line is the job's help).
A *group* of jobs (``study far-match``) is a module with ``JOBS``, a dict of name -> job.
Used by ``python -m retrieval.lab`` and ``python -m personalization.lab``: the command
applies ``--threads`` (:func:`retrieval.lab.options.apply_threads`) and turns a missing
file or a bad value into ``error: ...`` on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from types import ModuleType

from retrieval.lab.options import apply_threads

Jobs = Mapping[str, ModuleType]


def summary(module: ModuleType) -> str:
    """The first line of a module's docstring."""
    return (module.__doc__ or "").strip().splitlines()[0].rstrip(".")


def _add_jobs(parser: argparse.ArgumentParser, jobs: Jobs, depth: int = 0) -> None:
    sub = parser.add_subparsers(dest=f"_job{depth}", metavar="JOB", required=True)
    for name, module in jobs.items():
        child = sub.add_parser(
            name,
            help=summary(module),
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if hasattr(module, "JOBS"):
            _add_jobs(child, module.JOBS, depth + 1)
        else:
            module.add_arguments(child)
            child.set_defaults(_run=module.run)


def build_parser(prog: str, description: str, jobs: Jobs) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _add_jobs(parser, jobs)
    return parser


def main(prog: str, description: str, jobs: Jobs, argv: list[str] | None = None) -> int:
    """Parse ``argv``, run the job it names; returns the exit status."""
    args = build_parser(prog, description, jobs).parse_args(argv)
    apply_threads(args)
    try:
        status = args._run(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return int(status or 0)
