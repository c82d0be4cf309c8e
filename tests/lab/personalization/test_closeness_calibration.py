"""The closeness rule's calibration (``personalization.lab calibrate-closeness``): combining
the seen and unseen bands, and separating the subjects it was given."""

from __future__ import annotations

import numpy as np

from personalization.engine.closeness import Band
from personalization.lab.closeness_calibration import combine, measure_bands


def test_combining_takes_the_unseen_near_and_the_nearer_far():
    seen = {"sketch-sketch": Band(0.38, 0.69), "photo-photo": Band(0.38, 0.87)}
    unseen = {"sketch-sketch": Band(0.22, 0.44), "photo-photo": Band(0.43, 0.88)}
    out = combine(seen, unseen)
    assert out["sketch-sketch"] == Band(0.22, 0.44)
    assert out["photo-photo"] == Band(0.43, 0.87)
    assert combine({"sketch-sketch": Band(0.1, 0.3)}, {"sketch-sketch": Band(0.5, 0.9)})[
        "sketch-sketch"
    ] == Band(0.15, 0.3)  # an unseen near past the far edge: the ramp stays inside


def test_calibration_separates_subjects_it_was_given():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(8, 16))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    labels = np.repeat(np.arange(8), 12).astype(str).astype(object)
    vectors = centres[np.repeat(np.arange(8), 12)] + 0.05 * rng.normal(size=(96, 16))
    bands, measured = measure_bands({"sketch": vectors}, {"sketch": labels}, seed=0)
    assert set(bands) == {"sketch-sketch"}  # only the kinds it was given
    band = bands["sketch-sketch"]
    within = np.linalg.norm(vectors[0] - vectors[1])
    across = np.linalg.norm(centres[0] - centres[1])
    assert band.near < band.far and within < band.far < across
    assert measured["sketch-sketch"]["off_topic_with_any_influence"] <= 0.011
