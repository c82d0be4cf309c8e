"""The lab's commands: one per app, one sub-command per job, the shared options declared once."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from personalization.lab import jobs as personalization_jobs
from retrieval.lab import command
from retrieval.lab import jobs as retrieval_jobs
from retrieval.lab.options import OPTIONS, REQUIRED, add_options

REPO = Path(__file__).resolve().parents[2]


def _parser(module) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser


def test_help_lists_every_job_of_both_labs():
    for prog, jobs in (
        ("retrieval.lab", retrieval_jobs.JOBS),
        ("personalization.lab", personalization_jobs.JOBS),
    ):
        out = subprocess.run(
            [sys.executable, "-m", prog, "--help"], cwd=REPO, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        assert all(name in out.stdout for name in jobs)
    assert set(retrieval_jobs.JOBS) == {"train", "evaluate", "benchmark", "cache", "study"}
    assert set(retrieval_jobs.JOBS["study"].JOBS) == {"far-match", "query", "photo-input"}
    assert set(retrieval_jobs.JOBS["cache"].JOBS) == {"views", "conv5"}
    assert set(personalization_jobs.JOBS) == {
        "protocol",
        "benchmark",
        "calibrate-closeness",
        "synthetic-data",
    }


def test_jobs_keep_the_old_option_names_and_defaults():
    jobs = retrieval_jobs.JOBS
    train = _parser(jobs["train"]).parse_args(["--data", "d", "--out", "o"])
    assert (train.holdout_categories, train.threads, train.edge_method) == (20, 2, "canny")
    evaluate = _parser(jobs["evaluate"]).parse_args(["--data", "d"])
    assert (evaluate.holdout_categories, evaluate.edge_method, evaluate.query_expansion) == (
        0,
        None,
        3,
    )
    bench = _parser(jobs["benchmark"]).parse_args([])
    assert bench.data is None and bench.threads == 1 and bench.head.name == "vgg16_hed_head.pt"
    with pytest.raises(SystemExit):
        _parser(jobs["study"].JOBS["query"]).parse_args(["--data", "d"])  # --checkpoint required
    far = _parser(jobs["study"].JOBS["far-match"]).parse_args(["--data", "d"])
    assert far.holdout_categories == 20 and far.no_progress is False
    protocol = _parser(personalization_jobs.JOBS["protocol"]).parse_args(
        ["--data", "d", "--out", "o"]
    )
    assert protocol.cache_dir is None and protocol.threads == 2 and protocol.edge_method is None


def test_options_are_added_by_name_with_checked_overrides():
    parser = argparse.ArgumentParser()
    add_options(parser, "data", "checkpoint", data=None, checkpoint=REQUIRED)
    with pytest.raises(SystemExit):
        parser.parse_args([])
    assert parser.parse_args(["--checkpoint", "c"]).data is None
    with pytest.raises(ValueError):
        add_options(argparse.ArgumentParser(), "no-such-option")
    with pytest.raises(ValueError):
        add_options(argparse.ArgumentParser(), "seed", threads=1)
    assert "threads" in OPTIONS


def test_the_command_applies_threads_and_reports_errors(tmp_path, capsys):
    previous = torch.get_num_threads()
    try:
        status = retrieval_jobs.main(
            ["evaluate", "--data", str(tmp_path / "missing"), "--threads", "1", "--no-progress"]
        )
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(previous)
    assert status == 2 and capsys.readouterr().err.startswith("error:")
    assert command.summary(retrieval_jobs.JOBS["train"]).startswith("Train the general")
