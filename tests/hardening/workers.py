"""Real django-q2 worker processes for the fault and scale tests: each in its own process
group (one signal reaches the sentinel, pusher and workers it forks), logging to a file (a
pipe nobody reads would block a chatty worker), SIGKILLed on exit if still alive."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from tests.processes import REPO, child_env, wait_until

# A short lease so a killed job is found abandoned within a test; django-q2's own timeout
# and retry stay at their defaults, so recovery cannot come from a broker re-delivery.
LEASE_SECONDS = 5
WORKER_ENV = {
    "DJANGO_SETTINGS_MODULE": "tests.hardening.worker_settings",
    "PSBIR_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
    "PSBIR_DEVICE": "cpu",
    "OMP_NUM_THREADS": "1",
    "PSBIR_FEEDBACK_THRESHOLD": "100000",  # the schedule must not queue jobs of its own
}


def sweep_until_requeued(sweep: Any, job_id: int) -> None:
    """Run the scheduler's sweep, as its every-minute schedule would, until it requeues."""
    if not wait_until(lambda: job_id in sweep(), timeout=LEASE_SECONDS * 6, interval=0.5):
        pytest.fail("the sweep never found the killed worker's job abandoned")


@contextmanager
def killable_worker(**extra_env: str) -> Iterator[subprocess.Popen]:
    """``manage.py qcluster`` with the fake engine of ``worker_settings``."""
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as log:
        log_path = Path(log.name)
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, str(REPO / "manage.py"), "qcluster"],
            cwd=REPO,
            env=child_env(**{**WORKER_ENV, **extra_env}),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    process.log_path = log_path  # type: ignore[attr-defined]
    try:
        yield process
    finally:
        kill_group(process)
        log_path.unlink(missing_ok=True)


def kill_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)
    else:  # the leader is gone; its forks may not be
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def worker_log(process: subprocess.Popen, *, tail: int = 4000) -> str:
    path: Path = process.log_path  # type: ignore[attr-defined]
    return path.read_text(errors="replace")[-tail:] if path.exists() else ""


def stop_and_log(process: subprocess.Popen) -> str:
    kill_group(process)
    return worker_log(process)


def wait_or_fail(
    condition: Any,
    *,
    workers: list[subprocess.Popen],
    what: str,
    timeout: float,
    interval: float = 0.25,
) -> None:
    """Wait for ``condition``; if it never holds, stop the workers and fail with their logs."""
    if not wait_until(condition, timeout=timeout, interval=interval):
        logs = "\n---\n".join(stop_and_log(worker) for worker in workers)
        pytest.fail(f"{what}; worker log:\n{logs}")
