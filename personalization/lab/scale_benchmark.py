"""Search at library sizes up to millions of photos, through the product's services.

Run by ``python manage.py scale_benchmark --photos N --engine faiss|pgvector --json OUT``
(:mod:`personalization.management.commands.scale_benchmark`), which gives each phase a
process of its own on a throw-away data directory (and, for pgvector, a throw-away
PostgreSQL database), so nothing of the operator's is touched:

1. **build** (:func:`build`): the bundled demo library (about 300 real photos) is imported
   and indexed by the index job, with the shipped general model. ``N`` photo rows are then
   made whose pooled features are derived from the real ones (a random mix of two real
   photos' GeM features, each feature scaled by log-normal noise), and whose general vectors
   are the general head's projection of those features, as indexing computes them. The
   pooled features are stored where personal re-scoring reads them; the vectors are loaded
   into the configured vector store (``index_replace``): ``build_seconds``. Then
   ``recall_at_20``: for sketch queries (canvas drawings through the engine), the store's 20
   nearest against exact search over the same vectors.
2. **search** (:func:`search`), a fresh process as a web worker would be: canvas drawings
   through ``search_run`` (validation, trunk + head, query expansion, the store, ranking,
   storing the query and its results) for a user with no feedback (``search_*_ms``); then the
   user marks the top 3 of every search and has a personal projection head, and the same
   drawings are searched again (marks and head apply: ``personal_p50_ms``). ``rss_mb`` is
   that process's peak resident memory (VmHWM), ``index_bytes`` what the store keeps.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

DEMO = Path(__file__).resolve().parents[2] / "retrieval" / "demo_library"
ROWS_PER_BATCH = 10_000
RECALL_K = 20


def _percentile(seconds: list[float], q: float) -> float:
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] * 1000


def canvas_drawing(rng: np.random.Generator) -> dict[str, Any]:
    """A canvas payload of a few arcs (what the search API receives)."""
    strokes = []
    for _ in range(int(rng.integers(2, 6))):
        cx, cy, r = rng.uniform(120, 280), rng.uniform(120, 280), rng.uniform(30, 90)
        a0 = rng.uniform(0, 2 * math.pi)
        points = [
            [cx + r * math.cos(a0 + t), cy + r * math.sin(a0 + t)]
            for t in [i * 0.2 for i in range(int(rng.integers(8, 32)))]
        ]
        strokes.append({"points": points, "width": 4.0, "erase": False})
    return {"width": 400, "height": 400, "strokes": strokes}


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


# --- phase 1: build ------------------------------------------------------------------------


def build(*, photos: int, queries: int, seed: int, state: Path) -> dict[str, Any]:
    """Make the library of ``photos`` and load its vectors; returns build figures and
    recall, and writes what the search phase needs to ``state`` (JSON)."""
    from django.db import transaction

    from accounts.models import Tenant, User
    from retrieval import index_store, vector_stores
    from retrieval.engine_runtime import get_engine
    from retrieval.models import LibraryImage
    from retrieval.services import indexing
    from retrieval.services.images import library_import_folder
    from retrieval.services.libraries import library_create

    rng = np.random.default_rng(seed)
    engine = get_engine()
    if not engine.has_pooled_features:
        raise SystemExit("scale_benchmark needs an EfficientNet general model (pooled features)")
    version = engine.model_version
    tenant = Tenant.objects.create(slug="scale", name="Scale benchmark")
    User.objects.create_user(username="scale", password="x" * 16, tenant=tenant)

    # Real photos through the product's import and index job.
    real = library_create(tenant=tenant, name="Demo photos")
    outcome = library_import_folder(
        library=real, folder=DEMO / "images", labels_csv=DEMO / "manifest.csv", enqueue=False
    )
    indexing.index_job_run(job_id=outcome.job.pk, tenant_id=tenant.pk)
    real_ids = np.asarray(
        LibraryImage.objects.filter(library=real, status="indexed").values_list("id", flat=True),
        dtype=np.int64,
    )
    real_pooled = (
        index_store.pooled_store(real, version).get(real_ids).reshape(len(real_ids), -1)
    ).astype(np.float32)
    some_photo = LibraryImage.objects.filter(library=real).first().photo.name

    # N rows, their pooled features and vectors, in batches.
    library = library_create(tenant=tenant, name="Archive")
    pooled_store = index_store.pooled_store(library, version)
    ids = np.zeros(photos, dtype=np.int64)
    vectors = np.zeros((photos, 512), dtype=np.float32)
    started = time.perf_counter()
    # Few, large pooled-store writes: a FeatureStore compacts past 32 shards.
    pooled_batch = max(ROWS_PER_BATCH, -(-photos // 24))
    pending_ids: list[np.ndarray] = []
    pending_pooled: list[np.ndarray] = []
    for start in range(0, photos, ROWS_PER_BATCH):
        count = min(ROWS_PER_BATCH, photos - start)
        with transaction.atomic():
            rows = LibraryImage.objects.bulk_create(
                LibraryImage(
                    tenant=tenant,
                    library=library,
                    photo=some_photo,
                    original_name=f"archive-{start + i}",
                    status=LibraryImage.Status.INDEXED,
                    model_version=version,
                )
                for i in range(count)
            )
        batch_ids = np.array([row.pk for row in rows], dtype=np.int64)
        first = real_pooled[rng.integers(0, len(real_pooled), count)]
        second = real_pooled[rng.integers(0, len(real_pooled), count)]
        mix = rng.uniform(0.5, 1.0, (count, 1)).astype(np.float32)
        noise = rng.lognormal(0.0, 0.2, first.shape).astype(np.float32)
        pooled = ((mix * first + (1 - mix) * second) * noise).astype(np.float16)
        batch_vectors = engine.vectors_from_pooled(pooled)
        ids[start : start + count] = batch_ids
        vectors[start : start + count] = batch_vectors
        pending_ids.append(batch_ids)
        pending_pooled.append(pooled)
        if sum(len(p) for p in pending_ids) >= pooled_batch or start + count >= photos:
            pooled_store.put(
                np.concatenate(pending_ids), np.concatenate(pending_pooled)[:, :, None, None]
            )
            pending_ids, pending_pooled = [], []
    rows_seconds = time.perf_counter() - started

    started = time.perf_counter()
    served = indexing.index_replace(
        library=library, image_ids=ids, vectors=vectors, model_version=version
    )
    load_seconds = time.perf_counter() - started
    # What the store does once the rows are in, before searches are fast (pgvector: the
    # IVF lists, which a task builds after a large write; FAISS: nothing).
    maintenance = vector_stores.maintain()
    build_seconds = time.perf_counter() - started
    index_store.clear_process_caches()

    # Recall of the store against exact search, for sketch queries.
    store = vector_stores.active_store()
    query_vectors = np.stack(
        [engine.embed_sketch_strokes(canvas_drawing(rng)).vector for _ in range(queries)]
    ).astype(np.float32)
    recalls, nearest_ms = [], []
    for query in query_vectors:
        distances = ((vectors - query) ** 2).sum(axis=1)
        exact = ids[np.argpartition(distances, RECALL_K)[:RECALL_K]]
        tick = time.perf_counter()
        found = store.nearest([library], query, RECALL_K).ids
        nearest_ms.append((time.perf_counter() - tick) * 1000)
        recalls.append(len(set(found.tolist()) & set(exact.tolist())) / RECALL_K)
    state.write_text(json.dumps({"tenant": tenant.pk, "library": library.pk, "seed": seed}))
    return {
        "photos": int(served),
        "real_photos": int(len(real_ids)),
        "rows_seconds": round(rows_seconds, 1),
        "build_seconds": round(build_seconds, 1),
        "load_seconds": round(load_seconds, 1),
        "index_maintenance": maintenance,
        "recall_at_20": round(float(np.mean(recalls)), 4),
        "recall_at_20_min": round(float(np.min(recalls)), 4),
        "store_nearest_p50_ms": round(statistics.median(nearest_ms), 2),
        "build_peak_rss_mb": _peak_rss_mb(),
    }


# --- phase 2: search (a fresh process) -----------------------------------------------------


def search(*, queries: int, state: Path) -> dict[str, Any]:
    """Time searches as a web process runs them; see the module docstring."""
    import copy

    import torch
    from django.db import connection

    from accounts.models import User
    from personalization import head_files
    from personalization.models import Feedback, PersonalHead
    from personalization.services.search import search_run
    from retrieval import index_store, vector_stores
    from retrieval.engine_runtime import get_engine
    from retrieval.models import ImageLibrary, SearchResult

    saved = json.loads(state.read_text())
    rng = np.random.default_rng(saved["seed"] + 1)
    user = User.objects.get(username="scale")
    library = ImageLibrary.objects.for_tenant(saved["tenant"]).get(pk=saved["library"])
    engine = get_engine()
    drawings = [canvas_drawing(rng) for _ in range(queries)]

    def timed() -> list[float]:
        search_run(user=user, libraries=[library], strokes=drawings[0], top_k=20)  # warm-up
        seconds = []
        for payload in drawings:
            tick = time.perf_counter()
            search_run(user=user, libraries=[library], strokes=payload, top_k=20)
            seconds.append(time.perf_counter() - tick)
        return seconds

    general = timed()
    marked = SearchResult.objects.filter(query__user=user, rank__lte=3)
    Feedback.objects.bulk_create(
        Feedback(tenant_id=user.tenant_id, user=user, query_id=r.query_id, result=r, kind="match")
        for r in marked
    )
    # A personal head as training makes one: the general head with a re-initialised fc.
    head = copy.deepcopy(engine.general_head).cpu().eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        head.fc = torch.nn.Linear(head.fc.in_features, head.fc.out_features)
    row = PersonalHead.objects.create(
        tenant_id=user.tenant_id,
        user=user,
        version=1,
        status=PersonalHead.Status.READY,
        is_active=True,
        model_version=engine.model_version,
        feedback_watermark=Feedback.objects.filter(user=user).order_by("-id").first().pk,
        file_path=head_files.relative_path(tenant_id=user.tenant_id, user_id=user.pk, version=1),
        details={"config": {"scope": "projection"}},
    )
    head_files.save(head, relative=row.file_path, metadata={"kind": "scale benchmark"})
    personal = timed()

    store = vector_stores.active_store()
    if store.name == "pgvector":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_total_relation_size('retrieval_photovector')")
            index_bytes = int(cursor.fetchone()[0])
    else:
        library.refresh_from_db()
        folder = index_store.index_path(library.index_file).parent
        index_bytes = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return {
        "engine": store.name,
        "search_p50_ms": round(statistics.median(general) * 1000, 1),
        "search_p95_ms": round(_percentile(general, 0.95), 1),
        "personal_p50_ms": round(statistics.median(personal) * 1000, 1),
        "personal_p95_ms": round(_percentile(personal, 0.95), 1),
        "queries": queries,
        "marks": marked.count(),
        "rss_mb": _peak_rss_mb(),
        "index_bytes": index_bytes,
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }
