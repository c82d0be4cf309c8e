"""The query study: its weighted expansion and which sketches it may read."""

from __future__ import annotations

import numpy as np

from retrieval.engine.query_expansion import expand_against
from retrieval.lab import splits
from retrieval.lab.data import SketchPhotoDataset
from retrieval.lab.studies.query import validation_items, weighted_expansion
from tests.lab.general_fakes import make_dataset


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_study_weighted_expansion_with_alpha_0_and_weight_1_is_the_served_expansion():
    rng = np.random.default_rng(2)
    q = _unit(rng.normal(size=(4, 16)))
    g = _unit(rng.normal(size=(12, 16)))
    served = expand_against(q, g, 3)
    np.testing.assert_allclose(
        weighted_expansion(q, g, 3, alpha=0, query_weight=1.0), served, atol=1e-6
    )
    assert not np.allclose(weighted_expansion(q, g, 3, alpha=3, query_weight=1.0), served)


def test_study_queries_are_only_training_sketches_of_the_validation_categories(tmp_path):
    root = make_dataset(tmp_path / "shapes", photos=5, sketches_per_photo=2)
    full = SketchPhotoDataset.scan(root)
    val = [full.categories[0], full.categories[1]]
    items = validation_items(root, val, holdout=0, seed=0)
    tests = splits.test_sketch_paths(full, seed=0)
    assert items.sketches and {s.category for s in items.sketches} == set(val)
    assert not {s.relpath for s in items.sketches} & tests
    assert len(items.sketches) == sum(
        s.category in val and s.relpath not in tests for s in full.sketches
    )
    assert len(items.photos) == sum(p.category in val for p in full.photos)
