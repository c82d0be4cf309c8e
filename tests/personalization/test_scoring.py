"""Eqs. 16-19 pieces: w validation, raw mixing, top-K order, personal distances, head cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from personalization.charts import loss_polyline
from personalization.engine import scoring
from personalization.lab.synthetic import general_head


@pytest.mark.parametrize("w", [0, 0.0, 0.25, "0.5", 1, 1.0])
def test_weights_in_range_are_accepted(w):
    assert scoring.check_weight(w) == float(w)


@pytest.mark.parametrize("w", [-0.01, 1.01, float("nan"), float("inf"), "abc", None, [0.5]])
def test_weights_out_of_range_are_refused(w):
    with pytest.raises(ValueError, match="between 0 and 1"):
        scoring.check_weight(w)


def test_mix_is_eq18_on_raw_distances():
    general = np.array([1.0, 2.0, 3.0])
    personal = np.array([30.0, 10.0, 20.0])
    assert scoring.mix(general, personal, 0.0) == pytest.approx(general)
    assert scoring.mix(general, personal, 1.0) == pytest.approx(personal)
    assert scoring.mix(general, personal, 0.25) == pytest.approx(0.75 * general + 0.25 * personal)


def test_top_k_order_is_ascending_and_stable():
    assert scoring.top_k_order(np.array([3.0, 1.0, 1.0, 0.5]), 3).tolist() == [3, 1, 2]
    assert scoring.top_k_order(np.array([1.0, 2.0]), 10).tolist() == [0, 1]


def test_personal_distances_are_eq16():
    head = general_head()
    rng = np.random.default_rng(0)
    query = rng.random((512, 8, 8)).astype(np.float32)
    cands = rng.random((3, 512, 8, 8)).astype(np.float32)
    with torch.no_grad():
        vq = head(torch.from_numpy(query[None]))
        vc = head(torch.from_numpy(cands))
    expected = torch.linalg.vector_norm(vc - vq, dim=1).numpy()
    assert scoring.personal_distances(head, query, cands) == pytest.approx(expected, rel=1e-5)


def test_head_cache_loads_once_per_key_and_evicts_least_recent():
    cache = scoring.HeadCache(capacity=2)
    loads = []

    def loader(name):
        def _load():
            loads.append(name)
            return torch.nn.Linear(1, 1)

        return _load

    a = cache.get(("u", 1), loader("a"))
    assert cache.get(("u", 1), loader("a-again")) is a
    cache.get(("u", 2), loader("b"))
    cache.get(("u", 3), loader("c"))  # evicts ("u", 1)
    assert ("u", 1) not in cache and ("u", 3) in cache
    assert loads == ["a", "b", "c"]


def test_loss_chart_points_span_the_box():
    points = loss_polyline([4.0, 2.0, 1.0])
    xs = [float(p.split(",")[0]) for p in points.split()]
    ys = [float(p.split(",")[1]) for p in points.split()]
    assert xs[0] < xs[1] < xs[2] and ys[0] < ys[1] < ys[2]  # falling loss: y grows downwards
    assert loss_polyline([1.0]) == "" and loss_polyline([float("nan"), 2.0]) == ""


def test_a_projection_head_scores_pooled_features_as_it_scores_trunk_maps():
    """The pooled path (what searches use at scale) equals eq. 16 on the maps, up to the
    float16 the pooled features are kept in."""
    import copy

    from torch import nn

    from retrieval.engine.mbconv_head import initial_head

    general = initial_head("efficientnet_lite2", seed=0)
    personal = copy.deepcopy(general)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        personal.fc = nn.Linear(personal.fc.in_features, personal.fc.out_features)
    personal.eval()
    rng = np.random.default_rng(0)
    maps = (rng.random((25, 208, 8, 8)) * 2).astype(np.float16)
    with torch.no_grad():
        pooled = general.pooled(torch.as_tensor(maps[1:], dtype=torch.float32)).numpy()
    on_maps = scoring.personal_distances(personal, maps[0], maps[1:])
    on_pooled = scoring.personal_distances_pooled(personal, maps[0], pooled.astype(np.float16))
    np.testing.assert_allclose(on_pooled, on_maps, rtol=2e-3, atol=2e-3)
    assert np.array_equal(np.argsort(on_pooled)[:5], np.argsort(on_maps)[:5])
