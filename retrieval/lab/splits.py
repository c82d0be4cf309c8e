"""Seeded splits that keep test sketches and held-out categories out of training.

Every split is a pure function of (seed, category name, file names), not of which other
categories a folder holds, so the same sketch is a test sketch in every command and on every
subset of a dataset.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from retrieval.lab.data import SketchPhotoDataset

TEST_FRACTION = 0.3  # the paper's 7:3 split of each category's sketches


def _rng(seed: int, *keys: str) -> np.random.Generator:
    return np.random.default_rng([seed, *(zlib.crc32(k.encode()) for k in keys)])


def holdout_categories(categories: list[str], n: int, *, seed: int = 0) -> list[str]:
    """``n`` categories drawn (seeded) from ``categories``: never trained or tuned on."""
    if n < 0 or n >= len(categories):
        raise ValueError(f"--holdout-categories must be in [0, {len(categories) - 1}]")
    order = sorted(categories)
    picked = _rng(seed, "holdout").permutation(len(order))[:n]
    return sorted(order[i] for i in picked)


def sketch_split(
    dataset: SketchPhotoDataset, *, seed: int = 0, test_fraction: float = TEST_FRACTION
) -> tuple[list[int], list[int]]:
    """(train, test) sketch indices: ``test_fraction`` of each category's sketches, seeded."""
    by_cat: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(dataset.sketches):
        by_cat[s.category].append(i)
    train: list[int] = []
    test: list[int] = []
    for cat, idx in by_cat.items():
        # Sorted by path first, so the split does not depend on directory listing order.
        idx = sorted(idx, key=lambda i: dataset.sketches[i].relpath)
        perm = _rng(seed, "sketch-split", cat).permutation(len(idx))
        n_test = int(round(len(idx) * test_fraction))
        test += [idx[j] for j in perm[:n_test]]
        train += [idx[j] for j in perm[n_test:]]
    return sorted(train), sorted(test)


@dataclass(frozen=True)
class Splits:
    """Indices into a dataset's ``sketches`` / ``photos`` for every role."""

    seen: list[str]
    unseen: list[str]
    train_sketches: list[int]  # 70% sketches of seen categories
    test_sketches: list[int]  # 30% sketches of seen categories
    unseen_sketches: list[int]  # every sketch of the held-out categories
    seen_photos: list[int]
    unseen_photos: list[int]


def test_sketch_paths(dataset: SketchPhotoDataset, *, seed: int = 0) -> set[str]:
    """Relative paths of the test sketches of ``dataset`` (the full folder, not a subset)."""
    return {dataset.sketches[i].relpath for i in sketch_split(dataset, seed=seed)[1]}


def make_splits(
    dataset: SketchPhotoDataset,
    *,
    holdout: int,
    seed: int = 0,
    full: SketchPhotoDataset | None = None,
) -> Splits:
    """Roles of ``dataset``'s items; ``full`` is the whole folder when ``dataset`` is a subset.

    The 7:3 split is drawn on ``full``, so a sketch that is a test sketch of the folder stays
    one in every subset (a subset run can never train on a sketch the full run tests on).
    """
    full = full or dataset
    unseen = holdout_categories(full.categories, holdout, seed=seed) if holdout else []
    held = set(unseen)
    seen = [c for c in dataset.categories if c not in held]
    test_paths = test_sketch_paths(full, seed=seed)
    test = [i for i, s in enumerate(dataset.sketches) if s.relpath in test_paths]
    train = [i for i, s in enumerate(dataset.sketches) if s.relpath not in test_paths]
    sk_cat = [s.category for s in dataset.sketches]
    ph_cat = [p.category for p in dataset.photos]
    return Splits(
        seen=seen,
        unseen=unseen,
        train_sketches=[i for i in train if sk_cat[i] not in held],
        test_sketches=[i for i in test if sk_cat[i] not in held],
        unseen_sketches=[i for i, c in enumerate(sk_cat) if c in held],
        seen_photos=[i for i, c in enumerate(ph_cat) if c not in held],
        unseen_photos=[i for i, c in enumerate(ph_cat) if c in held],
    )
