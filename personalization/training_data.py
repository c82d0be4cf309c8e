"""From a user's stored feedback to the engine's inputs: eq. 9 set, sketch and photo conv5 maps.

Rules (docs/personalization.md says why):

- a sketch counts once, with every photo its user marked on that query; "none of these"
  names no photo and is not trained on;
- the most recent ``max_sketches`` sketches are used (memory and time stay bounded);
- the photos a sketch is compared with are the indexed photos of the libraries it searched,
  and only while their cached features are of the model version the sketch was embedded
  with: conv5 maps of two model versions are never mixed in one head. When feedback spans
  versions, the newest usable sketch's version wins and the others are skipped (and said so).
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from personalization import selectors
from personalization.engine.dataset import FeedbackItem, TrainingSet, build_training_set
from personalization.engine.grouping import PhotoPool
from retrieval import index_store
from retrieval.models import ImageLibrary, LibraryImage, SketchQuery


class NoTrainingData(Exception):
    """Nothing usable to train on; the message is fit to show the user."""


@dataclass
class TrainingInputs:
    training_set: TrainingSet
    sketch_maps: np.ndarray  # float16, aligned with training_set.sketch_keys
    photo_maps: np.ndarray  # float16, aligned with training_set.photo_ids
    model_version: str
    feedback_count: int
    watermark: int
    skipped: dict[int, str] = field(default_factory=dict)  # query id -> why


@dataclass
class _Pool:
    libraries: list[ImageLibrary]
    ids: np.ndarray
    library_of: dict[int, ImageLibrary]
    parents: np.ndarray
    subs: np.ndarray


def sketch_map(query: SketchQuery) -> np.ndarray | None:
    """The query's stored float16 trunk map (its length names the trunk's map shape)."""
    from retrieval.engine.trunks import map_shape_for_bytes

    raw = bytes(query.features) if query.features is not None else b""
    shape = map_shape_for_bytes(len(raw))
    if shape is None:
        return None
    return np.frombuffer(raw, dtype=np.float16).reshape(shape)


def collect(
    *,
    user: Any,
    per_branch: int,
    max_sketches: int,
    neighbours: int = 3,
    seed: int = 0,
) -> TrainingInputs:
    """Everything one training run needs for ``user``; raises :class:`NoTrainingData`."""
    marks = list(selectors.training_feedback(user=user).order_by("-id"))
    if not marks:
        raise NoTrainingData("Mark the photos you meant on a few searches first.")
    watermark = max(mark.id for mark in marks)
    chosen: OrderedDict[int, set[int]] = OrderedDict()  # query id -> photo ids, newest first
    for mark in marks:
        chosen.setdefault(mark.query_id, set()).add(mark.result.image_id)
    query_ids = list(chosen)[:max_sketches]
    queries = {
        q.pk: q
        for q in SketchQuery.objects.for_tenant(user.tenant_id)
        .filter(user=user, pk__in=query_ids)
        .prefetch_related("libraries")
    }

    skipped: dict[int, str] = {}
    version = None
    usable: list[tuple[SketchQuery, np.ndarray, list[ImageLibrary]]] = []
    for qid in query_ids:
        query = queries[qid]
        features = sketch_map(query)
        if features is None:
            skipped[qid] = "the sketch has no cached features"
            continue
        libraries = [
            lib for lib in query.libraries.all() if lib.model_version == query.model_version
        ]
        if not libraries:
            skipped[qid] = "its libraries were re-indexed with another model since"
            continue
        version = version or query.model_version
        if query.model_version != version:
            skipped[qid] = f"embedded with model {query.model_version}, not {version}"
            continue
        usable.append((query, features, libraries))
    if not usable:
        raise NoTrainingData("None of your marked searches can be used: " + _reasons(skipped))

    pools: dict[tuple[int, ...], _Pool] = {}
    items: list[FeedbackItem] = []
    sketches: dict[int, np.ndarray] = {}
    for query, features, libraries in usable:
        key = tuple(sorted(lib.pk for lib in libraries))
        if key not in pools:
            pools[key] = _load_pool(libraries, version)
        items.append(FeedbackItem(query.pk, key, tuple(sorted(chosen[query.pk]))))
        sketches[query.pk] = features

    engine_pools = {
        key: PhotoPool(
            ids=pool.ids,
            parents=pool.parents,
            subs=pool.subs,
            general_vectors=_general_vectors(pool) if _needs_vectors(pool, items, key) else None,
        )
        for key, pool in pools.items()
    }
    training_set = build_training_set(
        items, engine_pools, per_branch=per_branch, neighbours=neighbours, seed=seed
    )
    skipped.update(training_set.skipped)
    if len(training_set) == 0:
        raise NoTrainingData("Your marks give no training pairs: " + _reasons(skipped))

    library_of: dict[int, ImageLibrary] = {}
    for pool in pools.values():
        library_of.update(pool.library_of)
    return TrainingInputs(
        training_set=training_set,
        sketch_maps=np.stack([sketches[k] for k in training_set.sketch_keys]),
        photo_maps=_photo_maps(training_set.photo_ids, library_of, version),
        model_version=version,
        feedback_count=sum(len(chosen[k]) for k in training_set.sketch_keys),
        watermark=watermark,
        skipped=skipped,
    )


def _reasons(skipped: dict[int, str]) -> str:
    reasons = sorted(set(skipped.values()))
    return "; ".join(reasons) if reasons else "no usable marks"


def _load_pool(libraries: list[ImageLibrary], version: str) -> _Pool:
    tenant_id = libraries[0].tenant_id
    rows = list(
        LibraryImage.objects.for_tenant(tenant_id)
        .filter(
            library__in=libraries,
            status=LibraryImage.Status.INDEXED,
            model_version=version,
        )
        .order_by("id")
        .values_list("id", "library_id", "category", "subcategory")
    )
    by_id = {lib.pk: lib for lib in libraries}
    cached: dict[int, set[int]] = {
        lib.pk: set(index_store.feature_store(lib, version).ids().tolist()) for lib in libraries
    }
    rows = [row for row in rows if row[0] in cached[row[1]]]
    return _Pool(
        libraries=libraries,
        ids=np.array([r[0] for r in rows], dtype=np.int64),
        library_of={r[0]: by_id[r[1]] for r in rows},
        parents=np.array([r[2].strip() for r in rows], dtype=object).astype(str),
        subs=np.array([r[3].strip() for r in rows], dtype=object).astype(str),
    )


def _needs_vectors(pool: _Pool, items: list[FeedbackItem], key: tuple[int, ...]) -> bool:
    position = {int(pid): i for i, pid in enumerate(pool.ids.tolist())}
    for item in items:
        if item.pool_key != key:
            continue
        for pid in item.chosen_ids:
            i = position.get(pid)
            if i is not None and (pool.parents[i] == "" or pool.subs[i] == ""):
                return True
    return False


def _general_vectors(pool: _Pool) -> np.ndarray:
    """General vectors of the pool's photos, read back from the served indexes."""
    out = np.zeros((len(pool.ids), 512), dtype=np.float32)
    by_library: dict[int, list[int]] = defaultdict(list)
    for row, pid in enumerate(pool.ids.tolist()):
        by_library[pool.library_of[pid].pk].append(row)
    for library in pool.libraries:
        rows = by_library.get(library.pk)
        if rows:
            try:
                out[rows] = index_store.served_index(library).vectors(pool.ids[rows])
            except (KeyError, FileNotFoundError) as exc:
                raise NoTrainingData(
                    f"Library “{library.name}” is being re-indexed; try again when it is done."
                ) from exc
    return out


def _photo_maps(photo_ids: np.ndarray, library_of: dict[int, ImageLibrary], version: str):
    out: np.ndarray | None = None
    by_library: dict[int, list[int]] = defaultdict(list)
    libraries: dict[int, ImageLibrary] = {}
    for row, pid in enumerate(photo_ids.tolist()):
        library = library_of[pid]
        by_library[library.pk].append(row)
        libraries[library.pk] = library
    for library_id, rows in by_library.items():
        store = index_store.feature_store(libraries[library_id], version)
        maps = store.get(photo_ids[rows]).astype(np.float16)
        if out is None:
            out = np.empty((len(photo_ids), *maps.shape[1:]), dtype=np.float16)
        out[rows] = maps
    return out if out is not None else np.zeros((0, 512, 8, 8), np.float16)
