"""The eq. 9 training set: quadruples <U, S, S_i, Y> built from one user's feedback.

For each sketch S with chosen photos F (section IV.A):

- Y = 0   : S_i in the chosen sub-category S_C (positive correlation),
- Y = 0.5 : S_i in the parent category F_C but another sub-category (general correlation),
- Y = 1   : S_i outside F_C (negative correlation),

sampled 1:1:1, ``per_branch`` photos per branch and sketch (the paper uses 100). A branch
smaller than ``per_branch`` is repeated (every member at least once, the rest drawn at
random), so the ratio holds however small a sub-category is. When a branch is empty for a
sketch (a parent with a single sub-category, a pool of one parent) that branch is left out
for that sketch and recorded in ``TrainingSet.missing``; a sketch with neither a general
nor a negative branch teaches nothing and is skipped. The user U is implicit: a training
set belongs to one user.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from personalization.engine.grouping import (
    PhotoPool,
    default_parent_clusters,
    groups_for_choice,
    kmeans,
)

Y_POSITIVE = 0.0
Y_GENERAL = 0.5
Y_NEGATIVE = 1.0


@dataclass(frozen=True)
class FeedbackItem:
    """One sketch and the photos its user marked as meant (ids of pool photos)."""

    sketch_key: int
    pool_key: Hashable
    chosen_ids: tuple[int, ...]


@dataclass
class TrainingSet:
    """Quadruples as index arrays: sketch ``sketch_keys[sketch_index[j]]``, photo
    ``photo_ids[photo_index[j]]``, label ``labels[j]``."""

    sketch_keys: list[int]
    photo_ids: np.ndarray
    sketch_index: np.ndarray
    photo_index: np.ndarray
    labels: np.ndarray
    rules: dict[int, str] = field(default_factory=dict)
    missing: dict[int, list[float]] = field(default_factory=dict)
    skipped: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)

    def counts(self) -> dict[float, int]:
        return {y: int((self.labels == y).sum()) for y in (Y_POSITIVE, Y_GENERAL, Y_NEGATIVE)}


def build_training_set(
    items: Sequence[FeedbackItem],
    pools: Mapping[Hashable, PhotoPool],
    *,
    per_branch: int = 100,
    neighbours: int = 3,
    parent_clusters: int | None = None,
    seed: int = 0,
) -> TrainingSet:
    """Build the eq. 9 set for ``items``; deterministic for a given ``seed``."""
    if per_branch < 1:
        raise ValueError("per_branch must be at least 1")
    rng = np.random.default_rng(seed)
    derived: dict[Hashable, np.ndarray] = {}
    sketch_keys: list[int] = []
    rows_sketch: list[np.ndarray] = []
    rows_photo: list[np.ndarray] = []
    rows_label: list[np.ndarray] = []
    empty = np.zeros(0, dtype=np.int64)
    result = TrainingSet([], empty, empty, empty, np.zeros(0, dtype=np.float32))

    for item in items:
        pool = pools[item.pool_key]
        chosen = _positions(pool, item.chosen_ids)
        if len(chosen) == 0:
            result.skipped[item.sketch_key] = "chosen photos are not in the searched libraries"
            continue
        parents = None
        if np.any(np.asarray(pool.parents).astype(str)[chosen] == ""):
            parents = derived.get(item.pool_key)
            if parents is None:
                parents = _derive_parents(pool, parent_clusters, seed)
                derived[item.pool_key] = parents
        groups = groups_for_choice(pool, chosen, derived_parents=parents, neighbours=neighbours)
        branches = [
            (Y_POSITIVE, groups.positive),
            (Y_GENERAL, groups.general),
            (Y_NEGATIVE, groups.negative),
        ]
        missing = [y for y, members in branches if len(members) == 0]
        if Y_GENERAL in missing and Y_NEGATIVE in missing:
            result.skipped[item.sketch_key] = "no photo outside the chosen sub-category"
            continue
        if missing:
            result.missing[item.sketch_key] = missing
        result.rules[item.sketch_key] = groups.rule
        s_index = len(sketch_keys)
        sketch_keys.append(item.sketch_key)
        for y, members in branches:
            if len(members) == 0:
                continue
            picked = _balanced_sample(members, per_branch, rng)
            rows_photo.append(np.asarray(pool.ids, dtype=np.int64)[picked])
            rows_sketch.append(np.full(per_branch, s_index, dtype=np.int64))
            rows_label.append(np.full(per_branch, y, dtype=np.float32))

    if not rows_label:
        result.sketch_keys = sketch_keys
        return result
    all_photos = np.concatenate(rows_photo)
    photo_ids, photo_index = np.unique(all_photos, return_inverse=True)
    result.sketch_keys = sketch_keys
    result.photo_ids = photo_ids.astype(np.int64)
    result.photo_index = photo_index.astype(np.int64)
    result.sketch_index = np.concatenate(rows_sketch)
    result.labels = np.concatenate(rows_label)
    return result


def _positions(pool: PhotoPool, ids: Sequence[int]) -> np.ndarray:
    position = {int(pid): i for i, pid in enumerate(np.asarray(pool.ids).tolist())}
    return np.array([position[i] for i in ids if i in position], dtype=np.int64)


def _derive_parents(pool: PhotoPool, parent_clusters: int | None, seed: int) -> np.ndarray:
    if pool.general_vectors is None:
        raise ValueError("photos lack category labels and no general vectors were given")
    k = parent_clusters or default_parent_clusters(len(pool.ids))
    return kmeans(pool.general_vectors, k, seed=seed)


def _balanced_sample(members: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` members: without replacement when there are enough, else each at least once."""
    if len(members) >= n:
        return rng.choice(members, n, replace=False)
    extra = rng.choice(members, n - len(members), replace=True)
    return rng.permutation(np.concatenate([members, extra]))
