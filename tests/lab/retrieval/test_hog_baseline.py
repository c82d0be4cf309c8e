"""HOG on binary line maps: size, normalisation, orientation bins, a retrieval sanity check."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from retrieval.lab.hog_baseline import (
    HOG_BINS,
    cell_histograms,
    hog_descriptor,
    hog_descriptors,
    hog_dim,
)


def outline(shape: str, shift: int = 0) -> np.ndarray:
    """A 256x256 binary map (0 = line) with a circle or square outline."""
    image = np.full((256, 256), 255, np.uint8)
    c = 128 + shift
    if shape == "circle":
        cv2.circle(image, (c, 128), 80, 0, 3)
    else:
        cv2.rectangle(image, (c - 80, 48), (c + 80, 208), 0, 3)
    return image


def test_descriptor_is_unit_length_with_the_documented_size():
    vec = hog_descriptor(outline("circle"))
    assert vec.shape == (hog_dim(),) == (7 * 7 * 4 * 9,)
    assert vec.dtype == np.float32
    assert np.linalg.norm(vec) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_array_equal(vec, hog_descriptor(outline("circle")))


def test_blank_map_gives_a_zero_vector_not_nan():
    vec = hog_descriptor(np.full((256, 256), 255, np.uint8))
    assert np.isfinite(vec).all() and not vec.any()


def test_horizontal_edge_votes_in_the_90_degree_bin():
    # Intensity changes along y only: gradient angle 90 deg, the centre of bin 4 (80-100).
    image = np.zeros((32, 32), np.float32)
    image[16:] = 1.0
    hist = cell_histograms(image, cell=16, bins=HOG_BINS).sum(axis=(0, 1))
    assert hist[4] > 0
    assert hist.sum() == pytest.approx(hist[4], rel=1e-6)


def test_vertical_edge_splits_between_the_bins_around_0_degrees():
    # Gradient angle 0 deg lies on the border of bin 0 (0-20) and bin 8 (160-180): half each.
    image = np.zeros((32, 32), np.float32)
    image[:, 16:] = 1.0
    hist = cell_histograms(image, cell=16, bins=HOG_BINS).sum(axis=(0, 1))
    assert hist[0] == pytest.approx(hist[8], rel=1e-6)
    assert hist[0] + hist[8] == pytest.approx(hist.sum(), rel=1e-6)


def test_a_shape_is_nearer_its_shifted_self_than_another_shape():
    vecs = hog_descriptors([outline("circle"), outline("circle", shift=6), outline("square")])
    assert np.linalg.norm(vecs[0] - vecs[1]) < np.linalg.norm(vecs[0] - vecs[2])
    assert hog_descriptors([]).shape == (0, hog_dim())
