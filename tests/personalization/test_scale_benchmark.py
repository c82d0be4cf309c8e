"""``manage.py scale_benchmark`` end to end, small: it builds a library from the demo photos
in a throw-away data dir, measures, reports every key the issue names, and leaves nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import REPO


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_scale_benchmark_reports_every_key_and_exact_recall_below_the_ann_size(tmp_path: Path):
    out = tmp_path / "report.json"
    before = set(Path("/tmp").glob("psbir-scale-*"))
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "manage.py"),
            "scale_benchmark",
            "--photos",
            "500",
            "--engine",
            "faiss",
            "--queries",
            "3",
            "--min-recall",
            "0.99",
            "--json",
            str(out),
        ],
        cwd=REPO,
        env=_operator_env(tmp_path / "operator"),
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(out.read_text())
    for key in (
        "photos",
        "engine",
        "build_seconds",
        "search_p50_ms",
        "search_p95_ms",
        "personal_p50_ms",
        "recall_at_20",
        "rss_mb",
        "index_bytes",
    ):
        assert key in report, key
    assert report["photos"] == 500 and report["engine"] == "faiss"
    assert report["recall_at_20"] == 1.0  # exact search below 50,000 vectors
    assert report["marks"] > 0 and report["index_bytes"] > 500 * 512 * 4
    assert set(Path("/tmp").glob("psbir-scale-*")) == before  # the throw-away dir is gone
    # The operator's database and data directories were not touched.
    assert not any(p.is_file() for p in (tmp_path / "operator").rglob("*"))


def _operator_env(root: Path) -> dict[str, str]:
    """An operator's environment with every data path set (the command must not use them)."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="psbir_site.settings",
        PSBIR_DATA_DIR=str(root),
        PSBIR_MEDIA_ROOT=str(root / "media"),
        PSBIR_INDEX_DIR=str(root / "indexes"),
        PSBIR_FEATURE_DIR=str(root / "features"),
        PSBIR_PERSONAL_HEAD_DIR=str(root / "heads"),
        PSBIR_MODEL_DIR=str(REPO / "var" / "models"),
    )
    return env
