"""The time-to-live benchmark's path, small: a real worker trains the product's projection
head and the ready event reaches the user's websocket (the figure is docs/benchmarks.md's)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from accounts.models import Tenant
from tests.processes import child_env


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_benchmark_measures_trigger_to_websocket_ready(monkeypatch):
    for name, value in child_env(
        PSBIR_PERSONAL_ROUNDS="2", PSBIR_PERSONAL_SAMPLES_PER_BRANCH="4", OMP_NUM_THREADS="1"
    ).items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()
    call_command("personalization_benchmark_ready", "--sketches", "2", "--photos", "60", stdout=out)
    report = json.loads(out.getvalue())
    assert 0 < report["training_s"] < report["trigger_to_websocket_ready_s"]
    assert report["scope"] == "projection"  # the product's personal head on the shipped model
    assert set(report["calibration"]) == {"general", "personal"}
    assert report["rounds"] == 2 and report["per_branch"] == 4 and report["sketches"] == 2
    assert not Tenant.objects.filter(slug__startswith="bench-").exists()  # cleaned up
