"""VectorIndex: add / search / remove / save / load, padding, replacement, the ANN switch."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.engine.index import VectorIndex


def _vectors(n: int, dim: int = 512, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def test_search_returns_euclidean_distances_and_database_ids():
    index = VectorIndex(dim=4)
    index.add([10, 20, 30], np.array([[0, 0, 0, 0], [3, 4, 0, 0], [0, 0, 0, 1]], np.float32))
    distances, ids = index.search(np.zeros((1, 4), np.float32), k=3)
    assert ids.dtype == np.int64 and distances.dtype == np.float32
    np.testing.assert_array_equal(ids, [[10, 30, 20]])
    np.testing.assert_allclose(distances, [[0, 1, 5]])  # not squared (25)


def test_search_pads_with_minus_one_and_inf():
    index = VectorIndex(dim=4)
    distances, ids = index.search(np.zeros((2, 4), np.float32), k=3)
    assert (ids == -1).all() and np.isinf(distances).all()
    index.add([7], np.ones((1, 4), np.float32))
    distances, ids = index.search(np.zeros((1, 4), np.float32), k=3)
    np.testing.assert_array_equal(ids, [[7, -1, -1]])
    assert distances[0, 0] == pytest.approx(2.0) and np.isinf(distances[0, 1:]).all()


def test_remove_and_replace():
    x = _vectors(5)
    index = VectorIndex()
    index.add(np.arange(100, 105), x)
    assert index.remove([101, 103, 999]) == 2
    assert len(index) == 3 and sorted(index.ids().tolist()) == [100, 102, 104]
    _, ids = index.search(x[1:2], k=3)
    assert 101 not in ids
    index.add([102], x[0:1])  # replaces, never duplicates
    assert len(index) == 3
    np.testing.assert_array_equal(index.vectors([102, 100]), x[[0, 0]])
    with pytest.raises(KeyError):
        index.vectors([101])


def test_save_load_round_trip_keeps_ids_vectors_and_metadata(tmp_path):
    x = _vectors(50)
    ids = np.arange(1000, 1050, dtype=np.int64)
    index = VectorIndex(metadata={"model_version": "g1-test"})
    index.add(ids, x)
    path = tmp_path / "lib.index"
    index.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["lib.index"]  # atomic: no temp left
    loaded = VectorIndex.load(path)
    assert len(loaded) == 50 and loaded.metadata == {"model_version": "g1-test"}
    np.testing.assert_array_equal(np.sort(loaded.ids()), ids)
    np.testing.assert_array_equal(loaded.vectors(ids[:3]), x[:3])
    for idx in (index, loaded):
        d, i = idx.search(x[:5], k=1)
        np.testing.assert_array_equal(i[:, 0], ids[:5])
        np.testing.assert_allclose(d[:, 0], 0, atol=1e-3)
    bad = tmp_path / "bad.index"
    bad.write_bytes(b"not an index")
    with pytest.raises(ValueError):
        VectorIndex.load(bad)


def test_rejects_bad_input():
    index = VectorIndex(dim=4)
    with pytest.raises(ValueError):
        index.add([1, 2], np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError):
        index.add([1, 1], np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError):
        index.add([-1], np.zeros((1, 4), np.float32))
    with pytest.raises(ValueError):
        index.add([1], np.full((1, 4), np.nan, np.float32))
    with pytest.raises(ValueError):
        index.search(np.zeros((1, 5), np.float32), k=1)
    with pytest.raises(ValueError):
        index.search(np.zeros((1, 4), np.float32), k=0)


def test_switches_to_ivf_above_the_threshold_and_keeps_good_recall(tmp_path):
    rng = np.random.default_rng(1)
    # Clustered data, as descriptors are: 40 centres, 3000 points.
    centres = rng.standard_normal((40, 64)).astype(np.float32) * 4
    x = (centres[rng.integers(0, 40, 3000)] + rng.standard_normal((3000, 64))).astype(np.float32)
    ids = np.arange(3000, dtype=np.int64) * 7
    index = VectorIndex(dim=64, ann_threshold=2000, nprobe=8)
    index.add(ids[:1500], x[:1500])
    assert index.kind == "flat"
    index.add(ids[1500:], x[1500:])
    assert index.kind == "ivf" and len(index) == 3000
    exact = VectorIndex(dim=64, ann_threshold=10**9)
    exact.add(ids, x)
    queries = x[:100] + 0.1
    _, approx_ids = index.search(queries, 10)
    _, exact_ids = exact.search(queries, 10)
    recall = np.mean(
        [len(set(a) & set(e)) / 10 for a, e in zip(approx_ids, exact_ids, strict=True)]
    )
    assert recall > 0.8
    index.save(tmp_path / "ivf.index")
    loaded = VectorIndex.load(tmp_path / "ivf.index")
    assert loaded.kind == "ivf"
    # IVF codes are 8-bit scalar-quantised: vectors come back approximately (within ~1/255 of
    # each dimension's range; this assertion was exact with the old IndexIVFFlat).
    np.testing.assert_allclose(loaded.vectors(ids[10:12]), x[10:12], atol=0.05)
    assert loaded.remove(ids[:2000]) == 2000
    assert loaded.kind == "flat" and len(loaded) == 1000  # back to exact when small
    np.testing.assert_array_equal(np.sort(loaded.ids()), np.sort(ids[2000:]))
