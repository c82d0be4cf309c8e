"""Search and indexing speed through the product's services, on a throw-away data dir.

    .venv/bin/python scripts/search_benchmark.py [--head PATH] [--library 15000]
        [--indexed 96] [--queries 30] [--threads 2] [--json OUT]

1. Indexing: ``--indexed`` generated photos go through ``images_import`` and the index job
   (decode, trunk, head, feature cache, FAISS), timed: photos per second.
2. The library is then filled to ``--library`` photos: rows plus cached trunk maps made by
   perturbing the real maps of step 1 (generated photos are fine for timing), and its index
   rebuilt through ``index_rebuild`` (the head over every cached map).
3. Queries: ``--queries`` canvas drawings through ``search_run`` (stroke validation and
   rasterisation, trunk + head, FAISS top-K, the ranking, storing the query and its results)
   for a user without feedback; then the same drawings again once the user marked the top 3
   results of each and has a personal head (each is close to its own feedback: marks and
   head apply, ``mean_closeness``); then as many new drawings (personalized as far as they
   are close to the marked ones: random scribbles against a library of random shapes are
   mostly close to each other): p50 / p95 in ms.

``--head`` picks the general model (default: the shipped one); run once per model to compare
(the paper's VGG-16 model is ``retrieval/engine/assets/vgg16_hed_head.pt``). Nothing touches
``var/``: a temporary PSBIR_DATA_DIR is made and removed.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _photo_png(rng, size: int = 320) -> bytes:
    import cv2
    import numpy as np
    from PIL import Image

    image = np.full((size, size, 3), rng.integers(170, 255, 3), np.uint8)
    for _ in range(int(rng.integers(2, 5))):
        colour = tuple(int(c) for c in rng.integers(0, 200, 3))
        centre = tuple(int(c) for c in rng.integers(60, size - 60, 2))
        if rng.random() < 0.5:
            cv2.circle(image, centre, int(rng.integers(20, 70)), colour, -1)
        else:
            half = rng.integers(20, 70, 2)
            cv2.rectangle(image, tuple(centre - half), tuple(centre + half), colour, -1)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _drawing(rng) -> dict:
    from personalization.lab.scale_benchmark import canvas_drawing

    return canvas_drawing(rng)


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(math.ceil(0.95 * len(ordered))) - 1)]
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "n": len(ordered),
    }


def run(args: argparse.Namespace) -> dict:
    import django
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)

    from accounts.models import Tenant, User
    from personalization import head_files
    from personalization.models import PersonalHead
    from personalization.services.search import search_run
    from retrieval import index_store
    from retrieval.engine.heads import new_head
    from retrieval.engine_runtime import get_engine
    from retrieval.models import LibraryImage
    from retrieval.services import images as image_services
    from retrieval.services import indexing
    from retrieval.services.libraries import library_create

    rng = np.random.default_rng(0)
    engine = get_engine()
    tenant = Tenant.objects.create(slug="bench", name="Benchmark")
    user = User.objects.create_user(username="bench", password="x" * 16, tenant=tenant)
    library = library_create(tenant=tenant, name="Generated")

    # 1. Indexing through the import job.
    items = [
        image_services.UploadItem(name=f"photo-{i}.png", data=_photo_png(rng))
        for i in range(args.indexed)
    ]
    outcome = image_services.images_import(library=library, items=items, enqueue=False)
    started = time.perf_counter()
    indexing.index_job_run(job_id=outcome.job.pk, tenant_id=tenant.pk)
    index_seconds = time.perf_counter() - started

    # 2. Fill to the library size with rows and perturbed copies of the real maps.
    version = engine.model_version
    real_ids = list(
        LibraryImage.objects.filter(library=library).order_by("id").values_list("id", flat=True)
    )
    store = index_store.feature_store(library, version)
    real_maps = store.get(real_ids)
    first = LibraryImage.objects.filter(library=library).order_by("id").first()
    extra = args.library - len(real_ids)
    for start in range(0, extra, 2000):
        count = min(2000, extra - start)
        rows = LibraryImage.objects.bulk_create(
            LibraryImage(
                tenant=tenant,
                library=library,
                photo=first.photo.name,
                original_name=f"filler-{start + i}",
                status=LibraryImage.Status.INDEXED,
                model_version=version,
            )
            for i in range(count)
        )
        base = real_maps[rng.integers(0, len(real_maps), count)]
        noise = rng.normal(0, 0.1, base.shape).astype(np.float32) * base.std()
        store.put([row.pk for row in rows], np.maximum(base + noise, 0).astype(np.float16))
    started = time.perf_counter()
    indexing.index_rebuild(library=library, engine=engine)
    rebuild_seconds = time.perf_counter() - started
    library.refresh_from_db()

    # 3. Queries: general; then with a personal head and marks (every drawing searched again,
    # so each is close to feedback it was given: marks and head apply); then new drawings
    # (personalized as far as they are close to the marked ones).
    drawings = [_drawing(rng) for _ in range(args.queries)]
    unrelated = [_drawing(rng) for _ in range(args.queries)]

    def timed_queries(payloads) -> tuple[list[float], list[float]]:
        search_run(user=user, libraries=[library], strokes=payloads[0], top_k=20)  # warm-up
        seconds, closeness = [], []
        for payload in payloads:
            started = time.perf_counter()
            query = search_run(user=user, libraries=[library], strokes=payload, top_k=20).query
            seconds.append(time.perf_counter() - started)
            closeness.append(query.closeness)
        return seconds, closeness

    general, _ = timed_queries(drawings)
    # The user marks the top 3 results of every query so far and has a trained head.
    from personalization.models import Feedback
    from retrieval.models import SearchResult

    marked = SearchResult.objects.filter(query__user=user, rank__lte=3)
    Feedback.objects.bulk_create(
        Feedback(tenant=tenant, user=user, query_id=r.query_id, result=r, kind="match")
        for r in marked
    )
    head = new_head(engine.trunk, seed=1)
    row = PersonalHead.objects.create(
        tenant=tenant,
        user=user,
        version=1,
        status=PersonalHead.Status.READY,
        is_active=True,
        model_version=version,
        # Trained on these marks: the head applies near them.
        feedback_watermark=Feedback.objects.filter(user=user).order_by("-id").first().pk,
        file_path=head_files.relative_path(tenant_id=tenant.pk, user_id=user.pk, version=1),
    )
    head_files.save(head, relative=row.file_path, metadata={"kind": "benchmark"})
    with_marks, close = timed_queries(drawings)
    others, far = timed_queries(unrelated)
    return {
        "head": str(engine.head_path),
        "trunk": engine.trunk,
        "model_version": version,
        "library_photos": library.index_size,
        "indexing": {
            "photos": args.indexed,
            "seconds": round(index_seconds, 2),
            "photos_per_s": round(args.indexed / index_seconds, 2),
        },
        "index_rebuild_s": round(rebuild_seconds, 2),
        "search_general": _percentiles(general),
        "search_personal_with_marks": {
            **_percentiles(with_marks),
            "marks": marked.count(),
            "mean_closeness": round(statistics.fmean(close), 3),
        },
        "search_new_drawings_with_marks": {
            **_percentiles(others),
            "mean_closeness": round(statistics.fmean(far), 3),
        },
        "threads": args.threads,
        "load_average_at_start": args.load,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--head", type=Path, default=None, help="general head checkpoint")
    parser.add_argument("--library", type=int, default=15000)
    parser.add_argument("--indexed", type=int, default=96)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    args.load = [round(v, 2) for v in os.getloadavg()]
    data_dir = Path(tempfile.mkdtemp(prefix="psbir-bench-"))
    os.environ["PSBIR_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("PSBIR_MODEL_DIR", str(REPO / "var" / "models"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "psbir_site.settings"
    if args.head is not None:
        os.environ["PSBIR_GENERAL_HEAD"] = str(args.head.resolve())
    sys.path.insert(0, str(REPO))
    try:
        result = run(args)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    from retrieval.lab.reports import emit_json

    emit_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
