"""From a user's stored feedback to the engine's inputs: eq. 9 set, sketch and photo trunk maps.

Rules (docs/personalization.md says why):

- a sketch counts once, with every photo its user marked on that query; "none of these"
  names no photo and is not trained on;
- the most recent ``max_sketches`` sketches are used (memory and time stay bounded);
- the photos a sketch is compared with are the indexed photos of the libraries it searched,
  and only while their cached features are of the model version the sketch was embedded
  with: trunk maps of two model versions are never mixed in one head. When feedback spans
  versions, the newest usable sketch's version wins and the others are skipped (and said so).

Library features (which photos, their labels, trunk maps and general vectors) are read
through one retrieval selector, :func:`retrieval.selectors.photo_features`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from personalization import selectors
from personalization.engine.dataset import FeedbackItem, TrainingSet, build_training_set
from personalization.engine.grouping import PhotoPool
from retrieval import selectors as retrieval_selectors

if TYPE_CHECKING:
    from retrieval.models import ImageLibrary, SketchQuery


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
    queries = {q.pk: q for q in retrieval_selectors.query_list(user=user, ids=query_ids)}

    skipped: dict[int, str] = {}
    version = None
    usable: list[tuple[SketchQuery, np.ndarray, list[ImageLibrary]]] = []
    for qid in query_ids:
        query = queries[qid]
        sketch = retrieval_selectors.query_trunk_map(query=query)
        if sketch is None:
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
        usable.append((query, sketch, libraries))
    if not usable:
        raise NoTrainingData("None of your marked searches can be used: " + _reasons(skipped))

    searched = {lib.pk: lib for _, _, libraries in usable for lib in libraries}
    features = retrieval_selectors.photo_features(
        libraries=list(searched.values()), model_version=version
    )
    pools: dict[tuple[int, ...], retrieval_selectors.PhotoFeatures] = {}
    items: list[FeedbackItem] = []
    sketches: dict[int, np.ndarray] = {}
    for query, sketch, libraries in usable:
        key = tuple(sorted(lib.pk for lib in libraries))
        if key not in pools:
            pools[key] = features.of_libraries(key)
        items.append(FeedbackItem(query.pk, key, tuple(sorted(chosen[query.pk]))))
        sketches[query.pk] = sketch

    engine_pools = {
        key: PhotoPool(
            ids=pool.ids,
            parents=pool.categories,
            subs=pool.subcategories,
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

    return TrainingInputs(
        training_set=training_set,
        sketch_maps=np.stack([sketches[k] for k in training_set.sketch_keys]),
        photo_maps=features.trunk_maps(training_set.photo_ids),
        model_version=version,
        feedback_count=sum(len(chosen[k]) for k in training_set.sketch_keys),
        watermark=watermark,
        skipped=skipped,
    )


def _reasons(skipped: dict[int, str]) -> str:
    reasons = sorted(set(skipped.values()))
    return "; ".join(reasons) if reasons else "no usable marks"


def _needs_vectors(
    pool: retrieval_selectors.PhotoFeatures, items: list[FeedbackItem], key: tuple[int, ...]
) -> bool:
    position = {int(pid): i for i, pid in enumerate(pool.ids.tolist())}
    for item in items:
        if item.pool_key != key:
            continue
        for pid in item.chosen_ids:
            i = position.get(pid)
            if i is not None and (pool.categories[i] == "" or pool.subcategories[i] == ""):
                return True
    return False


def _general_vectors(pool: retrieval_selectors.PhotoFeatures) -> np.ndarray:
    """General vectors of the pool's photos, read back from the served indexes."""
    try:
        return pool.general_vectors()
    except retrieval_selectors.IndexUnavailable as exc:
        raise NoTrainingData(
            f"Library “{exc.library.name}” is being re-indexed; try again when it is done."
        ) from exc
