"""The far-match study (``retrieval.lab study far-match``) on hand-made vectors."""

from __future__ import annotations

import numpy as np

from retrieval.lab.studies.far_match import best_distances, present_and_absent


def test_the_study_separates_present_and_absent_categories():
    # Two tight clusters of unit vectors: a query of one is near its own cluster, and far
    # once its category is taken out of the gallery.
    rng = np.random.default_rng(0)
    centres = np.eye(8, dtype=np.float32)[:2]
    gallery = np.concatenate([c + 0.05 * rng.normal(size=(10, 8)) for c in centres])
    gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)
    photo_cat = np.repeat(["a", "b"], 10)
    queries = np.concatenate([c + 0.2 * rng.normal(size=(5, 8)) for c in centres])
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    sketch_cat = np.repeat(["a", "b"], 5)
    present, absent = present_and_absent(queries, sketch_cat, gallery, photo_cat, neighbours=3)
    # Expansion pulls a query toward the photos it has, so "far" is ~0.3 here, not ~1.4.
    assert present.max() < 0.2 < absent.min()
    assert np.allclose(best_distances(gallery[:1], gallery, 0), 0.0, atol=1e-3)
