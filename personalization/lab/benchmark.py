"""Benchmark of personalized ranking: training time, re-scoring recall and added latency.

    python -m personalization.lab benchmark [--sizes 1000 15000 100000]
        [--recall-sizes 1000 15000] [--paper-samples] [--threads 1] [--out results.json]

What it measures, on synthetic conv5 maps (personalization.lab.synthetic: 33 parents of
3 sub-categories, the general head blind to sub-categories; Flickr15K has 33 parents):

1. Training (the "ready" side): a user with 10 feedback sketches (10 parents, always the
   first sub-category); eq. 9 set + fine-tuning, with our default samples per branch (25)
   and, with ``--paper-samples``, the paper's 100.
2. Recall of re-scoring the general top-N candidates against exact eq. 19 over the whole
   library (every photo re-embedded with the user's head): recall@K = |top-K re-scored ∩
   top-K exact| / K (K = 20), for N in 100 / 200 / 400 and w in 0.5 / 1. Also precision@10
   of the user's sub-category for general-only, re-scored and exact ranking.
3. Added query latency at each library size: re-scoring (read N conv5 maps from a
   FeatureStore, conv6 on N + 1 maps, mix) versus a per-user index of personal vectors
   (conv6 on the query, distances to all n personal and general vectors, mix, top-K), and
   what that index costs to build (conv6 over the whole library) and to keep (n x 2 KiB per
   user). Vectors at sizes above the recall sizes are random (latency does not depend on
   their values); the FeatureStore holds ``--store-limit`` entries at most (reading N rows
   does not depend on how many others the store holds, as long as they are cached in RAM).
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from personalization.engine.dataset import FeedbackItem, build_training_set
from personalization.engine.finetune import finetune_head
from personalization.engine.grouping import PhotoPool
from personalization.engine.scoring import mix, personal_distances, top_k_order
from personalization.lab.synthetic import SyntheticLibrary, general_head
from retrieval.engine.features import FeatureStore
from retrieval.engine.heads import new_head
from retrieval.engine.model import head_vectors

PARENTS, SUBS = 33, 3
FEEDBACK_SKETCHES = 10
TOP_K = 20
PRECISION_K = 10  # the smallest library has 10 photos per sub-category
CANDIDATES = (100, 200, 400)
WEIGHTS = (0.5, 1.0)
QUERIES = 20
CHUNK = 2048


def library_of_size(n: int) -> SyntheticLibrary:
    return SyntheticLibrary(parents=PARENTS, subs=SUBS, per_sub=max(1, round(n / (PARENTS * SUBS))))


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median CPU time of ``repeat`` calls in milliseconds (after one warm-up call).

    CPU time of this process, not wall time: on a shared machine it is what the call costs
    on an otherwise idle core (the code runs on one thread, see ``--threads``).
    """
    fn()
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return 1000.0 * float(np.median(times))


# --- 1. training ----------------------------------------------------------------------------


def user_feedback(lib: SyntheticLibrary) -> tuple[list[FeedbackItem], np.ndarray, PhotoPool]:
    """10 sketches of parents 0..9; the user always picks sub-category 0 of the parent."""
    photos = lib.photo_maps(np.arange(lib.size))
    general = general_head()
    g_photos = head_vectors(general, photos)
    sketches = np.concatenate([lib.sketch_maps(p, 1, salt=1) for p in range(FEEDBACK_SKETCHES)])
    g_sketches = head_vectors(general, sketches)
    items = []
    for k in range(FEEDBACK_SKETCHES):
        order = np.argsort(np.linalg.norm(g_photos - g_sketches[k], axis=1), kind="stable")
        pick = next(int(i) for i in order if lib.sub_of[i] == k * SUBS)
        items.append(FeedbackItem(k, "lib", (pick,)))
    pool = PhotoPool(
        ids=np.arange(lib.size),
        parents=np.array([f"p{p}" for p in lib.parent_of]),
        subs=np.array([f"s{s}" for s in lib.sub_of]),
    )
    return items, sketches, pool


def bench_training(lib: SyntheticLibrary, per_branch: int) -> dict:
    items, sketches, pool = user_feedback(lib)
    cpu = time.process_time()
    start = time.perf_counter()
    ts = build_training_set(items, {"lib": pool}, per_branch=per_branch)
    photos = lib.photo_maps(ts.photo_ids).astype(np.float16)
    built = time.perf_counter() - start
    result = finetune_head(ts, sketch_maps=sketches.astype(np.float16), photo_maps=photos)
    return {
        "per_branch": per_branch,
        "pairs_per_round": len(ts),
        "distinct_photos": len(ts.photo_ids),
        "build_s": round(built, 2),
        "train_s": round(result.seconds, 2),
        "total_s": round(built + result.seconds, 2),
        # CPU seconds: on a shared machine, what an otherwise idle core would take.
        "cpu_s": round(time.process_time() - cpu, 2),
        "steps": result.steps,
        "loss_first_last": [round(result.losses[0], 3), round(result.losses[-1], 3)],
        "diverged": result.diverged,
        "head": result.head,
    }


# --- 2. recall --------------------------------------------------------------------------------


def embed_library(lib: SyntheticLibrary, heads: list[torch.nn.Module]) -> list[np.ndarray]:
    out = [np.empty((lib.size, 512), np.float32) for _ in heads]
    for start in range(0, lib.size, CHUNK):
        idx = np.arange(start, min(start + CHUNK, lib.size))
        maps = lib.photo_maps(idx).astype(np.float16)  # as cached: float16
        for vectors, head in zip(out, heads, strict=True):
            vectors[idx] = head_vectors(head, maps)
    return out


def _precision(lib: SyntheticLibrary, parent: int, order: np.ndarray) -> float:
    # The simulated user always means the first sub-category of the parent they draw.
    return float(np.mean(lib.sub_of[order[:PRECISION_K]] == parent * SUBS))


def bench_recall(lib: SyntheticLibrary, personal: torch.nn.Module) -> dict:
    general = general_head()
    g_photos, p_photos = embed_library(lib, [general, personal])
    rows = {"size": lib.size, "recall": {}, "precision": {}}
    queries = [
        (q % FEEDBACK_SKETCHES, lib.sketch_maps(q % FEEDBACK_SKETCHES, 1, salt=100 + q)[0])
        for q in range(QUERIES)
    ]
    for w in WEIGHTS:
        recall = {n: [] for n in CANDIDATES}
        precision = {"general": [], "exact": [], **{f"rescore@{n}": [] for n in CANDIDATES}}
        for parent, sketch in queries:
            maps = sketch[None].astype(np.float16)
            d_g = np.linalg.norm(g_photos - head_vectors(general, maps)[0], axis=1)
            d_p = np.linalg.norm(p_photos - head_vectors(personal, maps)[0], axis=1)
            exact = top_k_order(mix(d_g, d_p, w), TOP_K)
            hit = functools.partial(_precision, lib, parent)
            precision["general"].append(hit(top_k_order(d_g, TOP_K)))
            precision["exact"].append(hit(exact))
            general_order = top_k_order(d_g, max(CANDIDATES))
            for n in CANDIDATES:
                cands = general_order[:n]
                rescored = cands[top_k_order(mix(d_g[cands], d_p[cands], w), TOP_K)]
                recall[n].append(len(set(rescored.tolist()) & set(exact.tolist())) / TOP_K)
                precision[f"rescore@{n}"].append(hit(rescored))
        rows["recall"][str(w)] = {str(n): round(float(np.mean(v)), 3) for n, v in recall.items()}
        rows["precision"][str(w)] = {k: round(float(np.mean(v)), 3) for k, v in precision.items()}
    return rows


# --- 3. latency -------------------------------------------------------------------------------


def bench_latency(n: int, personal: torch.nn.Module, store: FeatureStore, store_ids: np.ndarray):
    rng = np.random.default_rng(n)
    query = (rng.random((512, 8, 8)) * 30).astype(np.float16)
    general_vectors = rng.normal(size=(n, 512)).astype(np.float32)
    personal_vectors = rng.normal(size=(n, 512)).astype(np.float32)
    d_general_q = rng.normal(size=512).astype(np.float32)
    row = {"size": n}
    for cands in CANDIDATES:
        ids = rng.choice(store_ids, size=min(cands, len(store_ids)), replace=False)
        d_g = np.sort(rng.random(len(ids))).astype(np.float32)

        def rescore(ids: np.ndarray = ids, d_g: np.ndarray = d_g) -> np.ndarray:
            maps = store.get(ids)
            return top_k_order(mix(d_g, personal_distances(personal, query, maps), 0.5), TOP_K)

        row[f"rescore@{cands}_ms"] = round(timed(rescore, 5), 1)
        row[f"rescore@{cands}_read_ms"] = round(timed(lambda ids=ids: store.get(ids), 5), 1)
        row[f"rescore@{cands}_wall_ms"] = round(wall(rescore), 1)

    # A personal index as it would be kept: vectors and their squared norms, so a query is
    # two matrix-vector products (|x - q|^2 = |x|^2 - 2 x.q + |q|^2), as FAISS's flat L2 does.
    p_norms = (personal_vectors**2).sum(axis=1)
    g_norms = (general_vectors**2).sum(axis=1)

    def full_index() -> np.ndarray:
        v = head_vectors(personal, query[None])[0]
        d_p = np.sqrt(np.maximum(p_norms - 2 * personal_vectors @ v + v @ v, 0))
        q = d_general_q
        d_g = np.sqrt(np.maximum(g_norms - 2 * general_vectors @ q + q @ q, 0))
        return top_k_order(mix(d_g, d_p, 0.5), TOP_K)

    row["personal_index_query_ms"] = round(timed(full_index, 5), 1)
    row["personal_index_MiB_per_user"] = round(n * 512 * 4 / 2**20, 1)
    return row


def wall(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return 1000.0 * (time.perf_counter() - start)


def conv6_throughput(head: torch.nn.Module) -> float:
    maps = (np.random.default_rng(0).random((512, 512, 8, 8)) * 30).astype(np.float16)
    ms = timed(lambda: head_vectors(head, maps), 3)
    return 512 / (ms / 1000.0)


def measure(args: argparse.Namespace) -> dict:
    """Every measurement the options ask for (see the module doc); printed as it goes."""
    report: dict = {
        "machine": f"{platform.processor() or platform.machine()}, torch threads {args.threads}",
        "torch": torch.__version__,
    }

    small = library_of_size(1000)
    if args.no_training:
        head = new_head("vgg16_hed", 0).eval()
    else:
        runs = [bench_training(small, 25)]
        runs += [bench_training(small, 100)] if args.paper_samples else []
        head = runs[0].pop("head")
        for run in runs[1:]:
            run.pop("head")
        report["training_10_sketches"] = runs
        print("training:", json.dumps(runs, indent=1), flush=True)  # noqa: T201

    report["recall"] = []
    for n in args.recall_sizes:
        rows = bench_recall(library_of_size(n), head)
        report["recall"].append(rows)
        print("recall:", json.dumps(rows), flush=True)  # noqa: T201

    throughput = conv6_throughput(head)
    report["conv6_maps_per_s"] = round(throughput, 1)
    with tempfile.TemporaryDirectory() as tmp:
        store = FeatureStore(Path(tmp) / "store")
        stored = min(max(args.sizes), args.store_limit)
        rng = np.random.default_rng(1)
        for start in range(0, stored, CHUNK):
            count = min(CHUNK, stored - start)
            chunk = (rng.random((count, 512, 8, 8)) * 30).astype(np.float16)
            store.put(np.arange(start, start + count), chunk)
        store_ids = np.arange(stored)
        report["latency"] = []
        for n in args.sizes:
            row = bench_latency(n, head, store, store_ids)
            row["personal_index_build_s"] = round(n / throughput, 1)
            report["latency"].append(row)
            print("latency:", json.dumps(row), flush=True)  # noqa: T201
    return report
