"""AP / mAP / P@K / precision-recall on hand-made rankings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from retrieval.lab import metrics


def test_average_precision_hand_computed():
    # Relevant at ranks 1 and 3: (1/1 + 2/3) / 2.
    assert metrics.average_precision([1, 0, 1, 0]) == pytest.approx((1 + 2 / 3) / 2)
    # A third relevant item never retrieved counts as a miss.
    assert metrics.average_precision([1, 0, 1, 0], n_relevant=3) == pytest.approx((1 + 2 / 3) / 3)
    assert metrics.average_precision([0, 0, 0, 1]) == pytest.approx(0.25)
    assert metrics.average_precision([1, 1, 0, 0]) == pytest.approx(1.0)
    assert math.isnan(metrics.average_precision([0, 0]))
    with pytest.raises(ValueError):
        metrics.average_precision([1, 1], n_relevant=1)


def test_map_skips_queries_without_relevant_items():
    rankings = [[1, 0, 0], [0, 1, 1], [0, 0, 0]]
    expected = (1.0 + (1 / 2 + 2 / 3) / 2) / 2
    assert metrics.mean_average_precision(rankings) == pytest.approx(expected)


def test_precision_at_k():
    assert metrics.precision_at_k([1, 0, 1, 1, 0], 3) == pytest.approx(2 / 3)
    assert metrics.precision_at_k([1, 0], 4) == pytest.approx(1 / 4)
    with pytest.raises(ValueError):
        metrics.precision_at_k([1], 0)


def test_interpolated_pr_curve():
    recall, precision = metrics.interpolated_pr_curve([[1, 0, 1, 0]])
    # precision after each rank: 1, 1/2, 2/3, 1/2; recall 1/2 at rank 1, 1 at rank 3.
    assert precision[recall <= 0.5] == pytest.approx(1.0)
    assert precision[recall > 0.5] == pytest.approx(2 / 3)
    p, r = metrics.precision_recall([1, 0, 1, 0])
    np.testing.assert_allclose(p, [1, 0.5, 2 / 3, 0.5])
    np.testing.assert_allclose(r, [0.5, 0.5, 1, 1])


def test_relevance_matrix_and_summary():
    ranked = np.array([[2, 0, 1, -1], [1, 2, 0, -1]])
    gallery = np.array(["cat", "dog", "cat"])  # id -> label
    rel = metrics.relevance_matrix(ranked, np.array(["cat", "dog"]), gallery)
    np.testing.assert_array_equal(rel, [[1, 1, 0, 0], [1, 0, 0, 0]])
    rel_dict = metrics.relevance_matrix(
        ranked, np.array(["cat", "dog"]), {0: "cat", 1: "dog", 2: "cat"}
    )
    np.testing.assert_array_equal(rel, rel_dict)
    summary = metrics.summarize(rel, ks=(1, 2))
    assert summary == {"map": pytest.approx(1.0), "queries": 2, "p_at_1": 1.0, "p_at_2": 0.75}


def test_plot_writes_a_png(tmp_path):
    curve = metrics.interpolated_pr_curve([[1, 0, 1, 0], [0, 1, 0, 0]])
    path = tmp_path / "plots" / "pr.png"
    metrics.plot_pr_curves({"general": curve}, path, title="test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
