"""Tuning knobs of personalization, with their defaults (docs/personalization.md says why).

Each is read from the Django settings when defined there, else from the environment
variable of the same name (so a worker can be tuned without a code change), else the
default here.
"""

from __future__ import annotations

import os

from django.conf import settings

DEFAULTS = {
    # Eq. 9: photos per branch (Y = 0 / 0.5 / 1) and sketch. The paper uses 100; 25 keeps
    # training of 10 sketches within a minute of one CPU core (measured by the benchmark).
    "PSBIR_PERSONAL_SAMPLES_PER_BRANCH": 25,
    "PSBIR_PERSONAL_ROUNDS": 20,  # the paper's 20 rounds
    "PSBIR_PERSONAL_BATCH_SIZE": 64,
    # Most recent marked sketches a training run uses (bounds its memory and time).
    "PSBIR_PERSONAL_MAX_SKETCHES": 50,
    # General candidates re-scored by the personal head (at least top K). 50: an
    # EfficientNet-Lite2 head costs ~3 ms a map on this 2-core CPU, so 50 keeps a personal
    # search within 300 ms (scripts/search_benchmark.py, docs/benchmarks.md).
    "PSBIR_PERSONAL_RESCORE_DEPTH": 50,
    # The memory term (a mark changes the next search at once, personalization/ranking.py):
    # 1 on, 0 off (the paper's eq. 18 alone); how many of the newest marks it reads.
    "PSBIR_PERSONAL_MEMORY": 1,
    "PSBIR_PERSONAL_MEMORY_MARKS": 200,
    # Eq. 18 on calibrated distances (1) or raw ones as the paper (0).
    "PSBIR_PERSONAL_CALIBRATED": 1,
}


def knob(name: str) -> int:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name, DEFAULTS[name])
    return int(value)
