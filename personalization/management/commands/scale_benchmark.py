"""Search speed, recall and memory at a library size: ``--photos N --engine faiss|pgvector``.

    python manage.py scale_benchmark --photos 1000000 --engine faiss --json OUT
    python manage.py scale_benchmark --photos 20000 --engine pgvector --min-recall 0.95

Runs :mod:`personalization.lab.scale_benchmark`'s two phases, each in a process of its own,
on a throw-away data directory; with ``--engine pgvector`` also on a throw-away database made
next to the configured PostgreSQL one (it needs ``DATABASE_URL`` with a role that may create
databases, and the ``vector`` extension in ``template1`` or creatable). Everything is removed
afterwards. Prints the JSON report (keys: photos, engine, build_seconds, search_p50_ms,
search_p95_ms, personal_p50_ms, recall_at_20, rss_mb, index_bytes, and more); exits 1 when
``--min-recall`` is given and not reached.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

_PHASE_ENV = "PSBIR_SCALE_BENCHMARK_PHASE"


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--photos", type=int, required=True, help="library size")
        parser.add_argument("--engine", choices=["faiss", "pgvector"], required=True)
        parser.add_argument("--queries", type=int, default=50, help="drawings per measurement")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--threads", type=int, default=2, help="torch threads")
        parser.add_argument("--json", type=Path, default=None, help="also write the report")
        parser.add_argument("--min-recall", type=float, default=None)
        parser.add_argument("--keep", action="store_true", help="keep the data dir (debugging)")

    def handle(self, *args: Any, **options: Any) -> None:
        phase = os.environ.get(_PHASE_ENV)
        if phase:
            self._run_phase(phase, options)
            return
        if options["photos"] < 1 or options["queries"] < 2:
            raise CommandError("--photos must be at least 1 and --queries at least 2")
        load = [round(v, 2) for v in os.getloadavg()]
        data_dir = Path(tempfile.mkdtemp(prefix="psbir-scale-"))
        env = {
            **os.environ,
            # Every data path inside the throw-away dir, whatever the operator's are set to.
            "PSBIR_DATA_DIR": str(data_dir),
            "PSBIR_MEDIA_ROOT": str(data_dir / "media"),
            "PSBIR_INDEX_DIR": str(data_dir / "indexes"),
            "PSBIR_FEATURE_DIR": str(data_dir / "features"),
            "PSBIR_PERSONAL_HEAD_DIR": str(data_dir / "models" / "personal"),
            "PSBIR_VECTOR_ENGINE": options["engine"],
            "PSBIR_MODEL_DIR": str(settings.PSBIR_MODEL_DIR),
            "OMP_NUM_THREADS": str(options["threads"]),
        }
        database = None
        try:
            if options["engine"] == "pgvector":
                database, env["DATABASE_URL"] = self._scratch_database()
            else:
                env.pop("DATABASE_URL", None)  # SQLite in the data dir
            self._manage(["migrate", "-v0"], env)
            self._manage(["createcachetable"], env)
            state = data_dir / "state.json"
            report = {
                "photos": options["photos"],
                "engine": options["engine"],
                **self._phase("build", options, env, state),
                **self._phase("search", options, env, state),
                "threads": options["threads"],
                "load_average_at_start": load,
            }
        finally:
            if database:
                self._drop_database(database)
            if not options["keep"]:
                shutil.rmtree(data_dir, ignore_errors=True)
        text = json.dumps(report, indent=2)
        if options["json"]:
            options["json"].write_text(text + "\n")
        self.stdout.write(text)
        if options["min_recall"] is not None and report["recall_at_20"] < options["min_recall"]:
            raise CommandError(
                f"recall@20 {report['recall_at_20']} is below --min-recall {options['min_recall']}"
            )

    # --- the phases, each in its own process -----------------------------------------------
    def _phase(self, name: str, options: dict, env: dict, state: Path) -> dict[str, Any]:
        out = state.with_name(f"{name}.json")
        argv = [
            "scale_benchmark",
            f"--photos={options['photos']}",
            f"--engine={options['engine']}",
            f"--queries={options['queries']}",
            f"--seed={options['seed']}",
            f"--threads={options['threads']}",
            f"--json={out}",
        ]
        self._manage(argv, {**env, _PHASE_ENV: name, "PSBIR_SCALE_STATE": str(state)})
        return json.loads(out.read_text())

    def _run_phase(self, phase: str, options: dict) -> None:
        import torch

        from personalization.lab import scale_benchmark

        torch.set_num_threads(options["threads"])
        state = Path(os.environ["PSBIR_SCALE_STATE"])
        if phase == "build":
            result = scale_benchmark.build(
                photos=options["photos"],
                queries=options["queries"],
                seed=options["seed"],
                state=state,
            )
        else:
            result = scale_benchmark.search(queries=options["queries"], state=state)
        options["json"].write_text(json.dumps(result))

    def _manage(self, argv: list[str], env: dict) -> None:
        manage = Path(settings.BASE_DIR) / "manage.py"
        done = subprocess.run([sys.executable, str(manage), *argv], env=env, check=False)
        if done.returncode != 0:
            raise CommandError(f"`manage.py {' '.join(argv[:1])}` failed ({done.returncode})")

    # --- a throw-away PostgreSQL database --------------------------------------------------
    def _scratch_database(self) -> tuple[str, str]:
        if connection.vendor != "postgresql":
            raise CommandError(
                "--engine pgvector needs DATABASE_URL pointing at PostgreSQL with pgvector"
            )

        name = f"psbir_scale_{secrets.token_hex(4)}"
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}" TEMPLATE template1')
        url = os.environ.get("DATABASE_URL", "")
        base, _, _ = url.rpartition("/")
        if not base:
            self._drop_database(name)
            raise CommandError("DATABASE_URL is needed to make a throw-away database")
        return name, f"{base}/{name}"

    def _drop_database(self, name: str) -> None:
        """Drop the scratch database (its phases' connections are closed; an autovacuum
        worker still in it is cancelled by PostgreSQL itself). A failure only warns: the
        figures are in, and the operator is told what to drop."""
        from django.db import DatabaseError

        for attempt in range(5):
            try:
                with connection.cursor() as cursor:
                    cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
                return
            except DatabaseError as exc:
                if attempt == 4:
                    self.stderr.write(f"could not drop the scratch database {name}: {exc}")
                    return
                time.sleep(2)
