"""Time from "train now" to "your personalized model is ready" on a websocket (real worker).

    PSBIR_DATA_DIR=$(mktemp -d) sh -c 'python manage.py migrate -v0 &&
        python manage.py createcachetable && python manage.py personalization_benchmark_ready'

Creates a throw-away organisation with a synthetic library of ``--photos`` photos (trunk maps
of the serving general model's shape and model version, in a real FeatureStore, so training
takes the product's path: the general head's projection, :mod:`personalization.engine.finetune`)
and one user with ``--sketches`` marked sketches; starts ``manage.py qcluster``, waits until it
runs tasks, opens the user's events websocket (the consumer the browser uses, with the events
relay), requests training as the API does, and stops the clock when ``personal_model_ready``
arrives on the socket. The automatic path adds the schedule's tick (at most one minute).
Everything it created is deleted afterwards.
"""

from __future__ import annotations

import asyncio
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
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Tenant, User
from personalization.models import Feedback, TrainingJob
from personalization.services import training
from psbir_site.consumers import EventsConsumer
from retrieval import index_store
from retrieval.models import ImageLibrary, LibraryImage, SearchResult, SearchSession, SketchQuery


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--sketches", type=int, default=10)
        parser.add_argument("--photos", type=int, default=990, help="library size")
        parser.add_argument("--timeout", type=float, default=900)

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.create(name="Benchmark", slug=f"bench-{uuid.uuid4().hex[:8]}")
        worker = None
        try:
            user = self._world(tenant, options["sketches"], options["photos"])
            worker = self._start_worker()
            report = asyncio.run(self._measure(user, options["timeout"]))
            report["sketches"] = options["sketches"]
            report["photos"] = options["photos"]
            report["load_average_at_start"] = os.getloadavg()[0]
            self.stdout.write(json.dumps(report, indent=2))
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=30)
            tenant.delete()
            for root in (settings.PSBIR_FEATURE_DIR, Path(settings.PSBIR_MODEL_DIR) / "personal"):
                shutil.rmtree(Path(root) / f"tenant-{tenant.pk}", ignore_errors=True)

    def _world(self, tenant: Tenant, sketches: int, photos: int) -> User:
        from personalization.lab.synthetic import SyntheticLibrary
        from retrieval.engine_runtime import get_engine

        engine = get_engine()
        version, (channels, *_) = engine.model_version, engine.feature_shape
        user = User.objects.create_user(username=f"{tenant.slug}-user", tenant=tenant)
        lib = SyntheticLibrary(parents=max(1, photos // 30), subs=3, per_sub=10)

        def trunk_like(maps: np.ndarray) -> np.ndarray:
            # Synthetic maps cut to the trunk's channels, in a ReLU6 map's range.
            return np.clip(np.abs(maps[:, :channels]), 0, 6).astype(np.float16)

        library = ImageLibrary.objects.create(tenant=tenant, name="bench", model_version=version)
        images = LibraryImage.objects.bulk_create(
            LibraryImage(
                tenant=tenant,
                library=library,
                photo=f"bench/{i}.png",
                category=f"parent-{lib.parent_of[i]}",
                subcategory=f"sub-{lib.sub_of[i]}",
                status=LibraryImage.Status.INDEXED,
                model_version=version,
            )
            for i in range(lib.size)
        )
        maps = trunk_like(lib.photo_maps(np.arange(lib.size)))
        store = index_store.feature_store(library, version)
        store.put(np.array([im.pk for im in images]), maps)
        general = engine.head_vectors(maps)
        for k in range(sketches):
            parent = k % lib.parents
            sketch = trunk_like(lib.sketch_maps(parent, 1, salt=k))
            order = np.argsort(np.linalg.norm(general - engine.head_vectors(sketch)[0], axis=1))
            session = SearchSession.objects.create(tenant=tenant, user=user)
            query = SketchQuery.objects.create(
                tenant=tenant,
                session=session,
                user=user,
                features=sketch[0].tobytes(),
                model_version=version,
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
            Feedback.objects.create(
                tenant=tenant, user=user, query=query, result=results[0], kind="match"
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

    async def _measure(self, user: User, timeout: float) -> dict[str, Any]:
        socket = WebsocketCommunicator(EventsConsumer.as_asgi(), "/ws/events/")
        socket.scope["user"] = user
        connected, _ = await socket.connect(timeout=30)
        if not connected or (await socket.receive_json_from(timeout=30))["event"] != "connected":
            raise CommandError("the events websocket did not connect")
        await asyncio.sleep(0.5)  # the relay takes its starting cursor
        clock = time.monotonic()
        job, _ = await sync_to_async(training.training_request)(
            user=user, requested_by=user, trigger="manual"
        )
        states = []
        try:
            while True:
                left = timeout - (time.monotonic() - clock)
                if left <= 0:
                    raise CommandError("no ready event in time")
                message = await socket.receive_json_from(timeout=left)
                if message.get("event") == "personal_model_ready":
                    break
                if message.get("event") == "personal_training":
                    states.append(message.get("state"))
                    if message.get("state") == TrainingJob.State.FAILED:
                        raise CommandError(f"training failed: {message.get('message')}")
        finally:
            await socket.disconnect()
        ready_s = time.monotonic() - clock
        job = await sync_to_async(TrainingJob.objects.select_related("head").get)(pk=job.pk)
        head = job.head
        return {
            "trigger_to_websocket_ready_s": round(ready_s, 2),
            "queue_pickup_s": round((job.started_at - job.created_at).total_seconds(), 2),
            "training_s": head.details["seconds"],
            "scope": head.details["config"].get("scope"),
            "calibration": head.details.get("calibration"),
            "pairs_per_round": sum(head.details["pairs"].values()),
            "rounds": head.details["config"]["rounds"],
            "per_branch": head.details["config"]["per_branch"],
            "events_seen": len(states) + 1,
        }
