"""Time from "train now" to "your personalized model is ready", through a real worker.

    PSBIR_DATA_DIR=$(mktemp -d) sh -c 'python manage.py migrate -v0 &&
        python manage.py createcachetable && python manage.py personalization_benchmark_ready'

Creates a throw-away organisation with a synthetic 1K-photo library (conv5 maps in a real
FeatureStore) and one user with ``--sketches`` marked sketches, starts ``manage.py qcluster``,
waits until it runs tasks, requests training as the API does, and waits for the
``personal_model_ready`` event in the outbox. The automatic path adds the schedule's tick
(at most one minute). Everything it created is deleted afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Tenant, User
from personalization.models import Feedback, PersonalHead, TrainingJob
from personalization.services import training
from psbir_site.models import OutboxEvent
from retrieval import index_store
from retrieval.models import ImageLibrary, LibraryImage, SearchResult, SearchSession, SketchQuery

VERSION = "g-benchmark"


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--sketches", type=int, default=10)
        parser.add_argument("--timeout", type=float, default=900)

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.create(name="Benchmark", slug=f"bench-{uuid.uuid4().hex[:8]}")
        worker = None
        try:
            user = self._world(tenant, options["sketches"])
            worker = self._start_worker()
            report = self._measure(user, options["timeout"])
            report["sketches"] = options["sketches"]
            self.stdout.write(json.dumps(report, indent=2))
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=30)
            tenant.delete()
            for root in (settings.PSBIR_FEATURE_DIR, Path(settings.PSBIR_MODEL_DIR) / "personal"):
                shutil.rmtree(Path(root) / f"tenant-{tenant.pk}", ignore_errors=True)

    def _world(self, tenant: Tenant, sketches: int) -> User:
        from personalization.engine.scoring import head_vectors
        from personalization.engine.synthetic import SyntheticLibrary, general_head

        user = User.objects.create_user(username=f"{tenant.slug}-user", tenant=tenant)
        lib = SyntheticLibrary(parents=33, subs=3, per_sub=10)
        library = ImageLibrary.objects.create(tenant=tenant, name="bench", model_version=VERSION)
        images = LibraryImage.objects.bulk_create(
            LibraryImage(
                tenant=tenant,
                library=library,
                photo=f"bench/{i}.png",
                category=f"parent-{lib.parent_of[i]}",
                subcategory=f"sub-{lib.sub_of[i]}",
                status=LibraryImage.Status.INDEXED,
                model_version=VERSION,
            )
            for i in range(lib.size)
        )
        maps = lib.photo_maps(np.arange(lib.size))
        store = index_store.feature_store(library, VERSION)
        store.put(np.array([im.pk for im in images]), maps.astype(np.float16))
        general = head_vectors(general_head(), maps)
        for k in range(sketches):
            parent = k % lib.parents
            sketch = lib.sketch_maps(parent, 1, salt=k)[0]
            order = np.argsort(
                np.linalg.norm(general - head_vectors(general_head(), sketch)[0], axis=1)
            )
            session = SearchSession.objects.create(tenant=tenant, user=user)
            query = SketchQuery.objects.create(
                tenant=tenant,
                session=session,
                user=user,
                features=sketch.astype(np.float16).tobytes(),
                model_version=VERSION,
            )
            query.libraries.set([library])
            results = SearchResult.objects.bulk_create(
                SearchResult(
                    tenant=tenant,
                    query=query,
                    image=images[i],
                    rank=r,
                    distance=r,
                    general_distance=r,
                )
                for r, i in enumerate(order[:20].tolist(), start=1)
            )
            meant = next(
                res for res in results if lib.sub_of[images.index(res.image)] == parent * 3
            )
            Feedback.objects.create(
                tenant=tenant, user=user, query=query, result=meant, kind="match"
            )
        return user

    def _start_worker(self) -> subprocess.Popen:
        from django_q.models import Success
        from django_q.tasks import async_task

        env = dict(os.environ, PSBIR_FEEDBACK_THRESHOLD="1000000")  # no automatic job here
        manage = Path(settings.BASE_DIR) / "manage.py"
        worker = subprocess.Popen(
            [sys.executable, str(manage), "qcluster"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        name = f"bench-warm-up-{uuid.uuid4().hex[:6]}"
        async_task("personalization.tasks.warm_up", task_name=name)
        deadline = time.monotonic() + 180
        while not Success.objects.filter(name=name).exists():
            if time.monotonic() > deadline or worker.poll() is not None:
                worker.terminate()
                raise CommandError("the worker did not start")
            time.sleep(0.5)
        return worker

    def _measure(self, user: User, timeout: float) -> dict[str, Any]:
        started = timezone.now()
        clock = time.monotonic()
        job, _ = training.training_request(user=user, requested_by=user, trigger="manual")
        while True:
            job.refresh_from_db()
            if job.state in (TrainingJob.State.READY, TrainingJob.State.FAILED):
                break
            if time.monotonic() - clock > timeout:
                raise CommandError("training did not finish in time")
            time.sleep(0.2)
        if job.state == TrainingJob.State.FAILED:
            raise CommandError(f"training failed: {job.message}")
        event = OutboxEvent.objects.filter(
            group=f"user-{user.pk}", payload__event="personal_model_ready"
        ).first()
        head = PersonalHead.objects.get(pk=job.head_id)
        return {
            "trigger_to_ready_event_s": round((event.created_at - started).total_seconds(), 2),
            "queue_pickup_s": round((job.started_at - job.created_at).total_seconds(), 2),
            "training_s": head.details["seconds"],
            "pairs_per_round": sum(head.details["pairs"].values()),
            "rounds": head.details["config"]["rounds"],
            "per_branch": head.details["config"]["per_branch"],
            "relay_poll_s": 0.5,
        }
