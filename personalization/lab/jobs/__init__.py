"""The jobs of ``python -m personalization.lab`` (see :mod:`retrieval.lab.command`)."""

from __future__ import annotations

from personalization.lab.jobs import benchmark, calibrate_closeness, protocol, synthetic_data
from retrieval.lab import command

JOBS = {
    "protocol": protocol,
    "benchmark": benchmark,
    "calibrate-closeness": calibrate_closeness,
    "synthetic-data": synthetic_data,
}

PROG = "python -m personalization.lab"
DESCRIPTION = """The personalization lab: the paper's protocol, benchmarks, calibration, data.

Every job says what it does with `python -m personalization.lab JOB --help`; the options
jobs share (--data, --seed, --threads, --cache-dir, --model-dir, --head, ...) are those of
retrieval.lab.options."""


def main(argv: list[str] | None = None) -> int:
    return command.main(PROG, DESCRIPTION, JOBS, argv)
