"""FeatureStore: round trip, replacement, deletion, persistence and crash safety."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.engine.features import FeatureStore


def _feats(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 512, 8, 8)).astype(np.float32)


def test_round_trip_is_float16_compact(tmp_path):
    store = FeatureStore(tmp_path)
    x = _feats(3)
    store.put([5, 1, 9], x)
    out = store.get([9, 5])
    assert out.dtype == np.float32 and out.shape == (2, 512, 8, 8)
    np.testing.assert_array_equal(out, x[[2, 0]].astype(np.float16).astype(np.float32))
    assert store.ids().tolist() == [1, 5, 9] and len(store) == 3 and 5 in store
    shard_bytes = sum(p.stat().st_size for p in tmp_path.glob("shard-*"))
    assert shard_bytes == 3 * 512 * 64 * 2
    with pytest.raises(KeyError):
        store.get([2])


def test_replace_delete_and_reopen(tmp_path):
    store = FeatureStore(tmp_path)
    x = _feats(4)
    store.put([1, 2, 3], x[:3])
    store.put([2], x[3:4])
    assert store.delete([3, 42]) == 1
    reopened = FeatureStore(tmp_path)
    assert reopened.ids().tolist() == [1, 2]
    np.testing.assert_allclose(reopened.get([2])[0], x[3], atol=1e-2)
    # Another instance sees a later write by the first one.
    store.put([7], x[:1])
    assert reopened.ids().tolist() == [1, 2, 7]
    reopened.compact()
    assert len(list(tmp_path.glob("shard-*"))) == 1
    np.testing.assert_allclose(store.get([1, 7]), x[[0, 0]], atol=1e-2)


def test_a_crash_before_commit_leaves_the_store_unchanged(tmp_path, monkeypatch):
    store = FeatureStore(tmp_path)
    store.put([1], _feats(1))

    def crash(self, manifest):
        raise OSError("disk gone")

    monkeypatch.setattr(FeatureStore, "_commit", crash)
    with pytest.raises(OSError):
        store.put([2], _feats(1, seed=1))
    monkeypatch.undo()
    fresh = FeatureStore(tmp_path)
    assert fresh.ids().tolist() == [1]  # the written shard is not referenced: never read
    assert len(list(tmp_path.glob("shard-*"))) == 2
    (tmp_path / ".manifest.npz.123.tmp").write_bytes(b"half a manifest")
    fresh.compact()  # sweeps the orphan shard and the stray temp file
    assert len(list(tmp_path.glob("shard-*"))) == 1
    assert not list(tmp_path.glob("*.tmp"))
    assert fresh.ids().tolist() == [1]


def test_rejects_bad_shapes_and_duplicates(tmp_path):
    store = FeatureStore(tmp_path, shape=(512, 8, 8))
    with pytest.raises(ValueError):
        store.put([1], np.zeros((1, 512, 4, 4), np.float32))
    with pytest.raises(ValueError):
        store.put([1], np.zeros((512, 8, 8), np.float32))
    with pytest.raises(ValueError):
        store.put([1, 1], _feats(2))
    with pytest.raises(ValueError):
        store.put([1], np.full((1, 512, 8, 8), np.inf, np.float32))
    assert len(store) == 0


def test_a_store_keeps_the_shape_of_its_first_maps(tmp_path):
    store = FeatureStore(tmp_path)
    maps = np.random.default_rng(0).random((3, 208, 8, 8)).astype(np.float32)
    store.put([1, 2, 3], maps)
    with pytest.raises(ValueError, match="holds"):
        store.put([4], np.zeros((1, 512, 8, 8), np.float32))
    reopened = FeatureStore(tmp_path)
    assert reopened.get([3, 1]).shape == (2, 208, 8, 8)
    np.testing.assert_allclose(reopened.get([2])[0], maps[1], atol=1e-3)
    reopened.delete([1])
    reopened.compact()
    assert FeatureStore(tmp_path).get([2, 3]).shape == (2, 208, 8, 8)
