"""The web process and the worker never import the lab (``retrieval.lab``, ``personalization.lab``).

pytest's own process imports the lab for the lab's tests, so the check runs in a fresh
process: this module run as ``python -m tests.test_web_process_imports_no_lab DIR`` sets
Django up with the project's settings on a temporary SQLite database in DIR, imports what a
web process and a worker import (``psbir_site.urls``, ``psbir_site.asgi``, the task modules,
the engine's facade), runs one real search through the API on a tiny indexed library (the
fake engine of the retrieval tests: the served search, ranking and personalization code
around it) and prints, as JSON, the lab modules it finds in ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAB_PACKAGES = ("retrieval.lab", "personalization.lab")


def lab_modules() -> list[str]:
    return sorted(
        name
        for name in sys.modules
        if any(name == pkg or name.startswith(pkg + ".") for pkg in LAB_PACKAGES)
    )


def child_environment(data_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PSBIR_", "DJANGO_", "DATABASE_", "REDIS_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="psbir_site.settings",
        DATABASE_URL=f"sqlite:///{data_dir / 'db.sqlite3'}",
        PSBIR_DATA_DIR=str(data_dir),
        PSBIR_PRELOAD_MODEL="0",
        PYTHONUNBUFFERED="1",
    )
    return env


def probe(data_dir: Path) -> dict:
    """What the child does (see the module docstring); returns the report it prints."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)

    from django.test import Client

    import personalization.tasks  # noqa: F401
    import psbir_site.asgi  # noqa: F401
    import psbir_site.urls  # noqa: F401
    import retrieval.engine.pipeline  # noqa: F401  (what get_engine loads)
    import retrieval.tasks  # noqa: F401
    from accounts.models import Tenant, User
    from retrieval import engine_runtime
    from retrieval.services.libraries import library_create
    from tests.retrieval.conftest import add_shapes
    from tests.retrieval.fakes import FakeEngine, circle_strokes

    engine_runtime.set_engine(FakeEngine())  # type: ignore[arg-type]
    tenant = Tenant.objects.create(name="Probe", slug="probe")
    user = User.objects.create_user(
        username="probe-member", password="probe-password-1", tenant=tenant
    )
    add_shapes(library_create(tenant=tenant, name="Shapes"), per_shape=2)

    client = Client(HTTP_HOST="localhost")  # an allowed host of the settings
    client.force_login(user)
    response = client.post(
        "/api/search/",
        data=json.dumps({"strokes": circle_strokes(), "top_k": 3}),
        content_type="application/json",
    )
    served = ("psbir_site.urls", "psbir_site.asgi", "personalization.engine.scoring")
    return {
        "status": response.status_code,
        "body": response.content.decode()[:500] if response.status_code != 201 else "",
        "results": len(response.json().get("results", [])),
        "served_missing": [name for name in served if name not in sys.modules],
        "lab_modules": lab_modules(),
    }


def test_the_web_process_and_the_worker_import_no_lab_module(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tests.test_web_process_imports_no_lab", str(tmp_path)],
        cwd=REPO,
        env=child_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"] == 201 and report["results"] == 3, report
    assert report["served_missing"] == [], report
    assert report["lab_modules"] == [], (
        f"the web process imported lab modules: {report['lab_modules']}"
    )


if __name__ == "__main__":
    print(json.dumps(probe(Path(sys.argv[1]))))
