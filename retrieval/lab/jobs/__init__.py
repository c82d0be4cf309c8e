"""The jobs of ``python -m retrieval.lab`` (see :mod:`retrieval.lab.command`).

- :mod:`.train`     train the general head (``--trunk``; the product's recipe or the paper's)
- :mod:`.evaluate`  retrieval figures of a head (or ``--baseline hog``)
- :mod:`.benchmark` VGG-16 embedding speed and precision modes -> docs/benchmarks-vgg16.md
- :mod:`.cache`     fill the trunk-map cache (``cache views``, ``cache conv5``)
- :mod:`.study`     the studies behind serving choices (``study far-match|query|photo-input``)
"""

from __future__ import annotations

from retrieval.lab import command
from retrieval.lab.jobs import benchmark, cache, evaluate, study, train

JOBS = {
    "train": train,
    "evaluate": evaluate,
    "benchmark": benchmark,
    "cache": cache,
    "study": study,
}

PROG = "python -m retrieval.lab"
DESCRIPTION = """The retrieval lab: train, evaluate and study the general model.

Every job says what it does with `python -m retrieval.lab JOB --help`; the options jobs
share (--data, --seed, --threads, --cache-dir, --model-dir, --head, --holdout-categories,
--no-progress, ...) are declared once, in retrieval.lab.options."""


def main(argv: list[str] | None = None) -> int:
    return command.main(PROG, DESCRIPTION, JOBS, argv)
