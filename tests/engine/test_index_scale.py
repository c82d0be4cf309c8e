"""VectorIndex at scale, in miniature: the IVF base (8-bit codes) + exact delta + mask, the
memory-mapped base file shared by successive manifests, the merge, the first file format."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import faiss
import numpy as np
import pytest

from retrieval.engine import index_files
from retrieval.engine.index import VectorIndex

DIM = 64


def _clustered(n: int, dim: int = DIM, seed: int = 0, clusters: int = 50) -> np.ndarray:
    """Unit vectors around ``clusters`` random centres, as descriptors are."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = centres[rng.integers(0, clusters, n)] + rng.standard_normal((n, dim)) * 0.6 / np.sqrt(dim)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _exact(ids: np.ndarray, x: np.ndarray) -> VectorIndex:
    index = VectorIndex(x.shape[1], ann_threshold=10**9)
    index.add(ids, x)
    return index


def _recall(approx: VectorIndex, exact: VectorIndex, queries: np.ndarray, k: int = 20) -> float:
    _, got = approx.search(queries, k)
    _, want = exact.search(queries, k)
    return float(np.mean([len(set(a) & set(e)) / k for a, e in zip(got, want, strict=True)]))


def _ivf(n: int = 3000, **kwargs) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    x = _clustered(n)
    ids = np.arange(n, dtype=np.int64) * 5 + 3
    index = VectorIndex(DIM, ann_threshold=1000, nprobe=16, **kwargs)
    index.add(ids, x)
    assert index.kind == "ivf" and index.delta_size == 0
    return index, ids, x


def test_ivf_recall_at_20_against_exact_search():
    index, ids, x = _ivf(4000)
    assert isinstance(index._index, faiss.IndexIVFScalarQuantizer)
    queries = _clustered(200, seed=7)
    assert _recall(index, _exact(ids, x), queries) >= 0.95
    # vectors come back decoded from 8-bit codes: close, not exact
    got = index.vectors(ids[:50])
    assert np.abs(got - x[:50]).max() < 0.02 and not np.array_equal(got, x[:50])


def test_save_writes_a_base_and_a_small_manifest_and_load_maps_it(tmp_path):
    index, ids, x = _ivf()
    index.save(tmp_path / "a.faiss")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.faiss", "a.ivf"]
    assert (tmp_path / "a.faiss").stat().st_size < 1000  # header only: empty delta and mask
    assert index_files.base_of(tmp_path / "a.faiss") == tmp_path / "a.ivf"
    loaded = VectorIndex.load(tmp_path / "a.faiss")
    assert loaded.kind == "ivf" and len(loaded) == len(ids) and loaded.base_file is not None
    assert isinstance(
        faiss.downcast_InvertedLists(loaded._index.invlists), faiss.OnDiskInvertedLists
    )
    queries = _clustered(50, seed=3)
    np.testing.assert_array_equal(loaded.search(queries, 20)[1], index.search(queries, 20)[1])
    np.testing.assert_array_equal(np.sort(loaded.ids()), np.sort(ids))
    np.testing.assert_array_equal(loaded.vectors(ids[:5]), index.vectors(ids[:5]))
    again = VectorIndex.load(tmp_path / "a.faiss")
    assert again._base is loaded._base  # one mapping per base file per process


def test_adding_after_load_writes_a_small_manifest_and_leaves_the_base_file_alone(tmp_path):
    index, ids, x = _ivf()
    index.save(tmp_path / "a.faiss")
    base = tmp_path / "a.ivf"
    before = base.stat()
    served = VectorIndex.load(tmp_path / "a.faiss")

    changed = VectorIndex.load(tmp_path / "a.faiss")
    new_ids = np.arange(100_000, 100_016, dtype=np.int64)
    new_x = _clustered(16, seed=11)
    changed.add(new_ids, new_x)  # 16 new photos
    replaced = _clustered(2, seed=12)
    changed.add(ids[:2], replaced)  # 2 photos embedded again
    assert changed.remove(np.concatenate([ids[2:5], ids[2:3], [999_999]])) == 3
    assert changed.remove(ids[:1]) == 1  # a replaced id counts once
    assert changed.delta_size == 17 and changed.masked_size == 5
    changed.save(tmp_path / "b.faiss")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.faiss", "a.ivf", "b.faiss"]
    after = base.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (
        before.st_ino,
        before.st_mtime_ns,
        before.st_size,
    )
    assert (tmp_path / "b.faiss").stat().st_size < 1000 + 17 * (DIM * 4 + 8) + 5 * 8
    assert index_files.base_of(tmp_path / "b.faiss") == base

    loaded = VectorIndex.load(tmp_path / "b.faiss")
    assert loaded._base is served._base  # the swap reuses the mapping
    assert len(loaded) == len(ids) + 16 - 4
    expected_ids = np.concatenate([ids[1:2], ids[5:], new_ids])
    np.testing.assert_array_equal(np.sort(loaded.ids()), np.sort(expected_ids))
    np.testing.assert_array_equal(loaded.vectors(new_ids), new_x)  # delta vectors are exact
    np.testing.assert_array_equal(loaded.vectors(ids[1:2]), replaced[1:2])
    for gone in (ids[0], ids[2], ids[4]):
        assert gone not in loaded
        with pytest.raises(KeyError):
            loaded.vectors([gone])
    distances, found = loaded.search(new_x, 20)
    np.testing.assert_array_equal(found[:, 0], new_ids)
    np.testing.assert_allclose(distances[:, 0], 0, atol=1e-3)
    _, found = loaded.search(x[:5], 50)
    assert not np.isin(found, ids[[0, 2, 3, 4]]).any()
    _, found = loaded.search(replaced[1:2], 1)
    assert found[0, 0] == ids[1]
    # against exact search over the same content
    content = np.concatenate([x[5:], new_x, replaced[1:2]])
    content_ids = np.concatenate([ids[5:], new_ids, ids[1:2]])
    assert _recall(loaded, _exact(content_ids, content), _clustered(100, seed=5)) >= 0.95
    assert served.delta_size == 0 and len(served) == len(ids)  # the served copy is unchanged


def test_the_delta_merges_into_a_new_base_past_the_fraction(tmp_path):
    index, ids, x = _ivf(2000, merge_fraction=0.1)
    index.save(tmp_path / "a.faiss")
    loaded = VectorIndex.load(tmp_path / "a.faiss")
    extra = _clustered(300, seed=21)
    extra_ids = np.arange(50_000, 50_300, dtype=np.int64)
    loaded.add(extra_ids[:150], extra[:150])
    loaded.remove(ids[:40])
    assert loaded.delta_size == 150 and loaded.masked_size == 40  # 190 <= 10% of 2000
    loaded.add(extra_ids[150:], extra[150:])
    assert loaded.delta_size == 0 and loaded.masked_size == 0  # merged
    assert loaded._index.ntotal == 2000 - 40 + 300 and loaded.base_file is None
    loaded.save(tmp_path / "b.faiss")
    assert index_files.base_of(tmp_path / "b.faiss") == tmp_path / "b.ivf"
    assert (tmp_path / "a.ivf").exists()  # the old base is someone else's to delete
    merged = VectorIndex.load(tmp_path / "b.faiss")
    content_ids = np.concatenate([ids[40:], extra_ids])
    np.testing.assert_array_equal(np.sort(merged.ids()), np.sort(content_ids))
    exact = _exact(content_ids, np.concatenate([x[40:], extra]))
    assert _recall(merged, exact, _clustered(100, seed=6)) >= 0.95


def test_shrinking_goes_back_to_exact_and_growth_retrains():
    index, ids, x = _ivf(3000)
    trained_nlist = index._index.nlist
    assert index.remove(ids[:2600]) == 2600
    assert index.kind == "flat" and len(index) == 400
    index2, ids2, _ = _ivf(1200)
    small_nlist = index2._index.nlist
    more = _clustered(4000, seed=8)
    index2.add(np.arange(10**6, 10**6 + 4000), more)  # > 4x the trained size: retrained
    assert index2.kind == "ivf" and index2.delta_size == 0
    assert index2._index.nlist > small_nlist and trained_nlist > small_nlist


def _save_v1(index: faiss.Index, path: Path, header: dict) -> None:
    """The first file format, as the previous ``VectorIndex.save`` wrote it."""
    blob = faiss.serialize_index(index)
    raw = json.dumps(header).encode()
    path.write_bytes(
        index_files.MAGIC_V1 + struct.pack("<Q", len(raw)) + raw + memoryview(blob).tobytes()
    )


@pytest.mark.parametrize("old_kind", ["flat", "ivf"])
def test_files_of_the_first_format_still_load(tmp_path, old_kind):
    n = 3000
    x = _clustered(n)
    ids = np.arange(n, dtype=np.int64) * 7
    if old_kind == "flat":
        old = faiss.IndexIDMap2(faiss.IndexFlatL2(DIM))
    else:
        old = faiss.IndexIVFFlat(faiss.IndexFlatL2(DIM), DIM, 64, faiss.METRIC_L2)
        old.train(x)
        old.set_direct_map_type(faiss.DirectMap.Hashtable)
    old.add_with_ids(x, ids)
    threshold = 10**6 if old_kind == "flat" else 1000
    header = {"dim": DIM, "ann_threshold": threshold, "nprobe": 16, "trained_size": n}
    _save_v1(old, tmp_path / "old.faiss", {**header, "metadata": {"model_version": "g1"}})
    loaded = VectorIndex.load(tmp_path / "old.faiss")
    assert loaded.kind == old_kind and len(loaded) == n
    assert loaded.metadata == {"model_version": "g1"}
    np.testing.assert_array_equal(loaded.vectors(ids[:3]), x[:3])  # flat codes: exact
    np.testing.assert_array_equal(loaded.search(x[:10], 1)[1][:, 0], ids[:10])
    loaded.add([10**7], x[:1])
    loaded.save(tmp_path / "new.faiss")
    assert index_files.read_header(tmp_path / "new.faiss")[0] == 2
    again = VectorIndex.load(tmp_path / "new.faiss")
    assert len(again) == n + 1 and again.kind == old_kind
    assert set(again.search(x[:1], 2)[1][0]) == {ids[0], 10**7}


_RSS_PROBE = textwrap.dedent(
    """
    import json, sys
    import faiss, numpy as np
    from retrieval.engine.index import VectorIndex

    def rss():
        out = {}
        for line in open("/proc/self/status"):
            key = line.split(":")[0]
            if key in ("RssAnon", "RssFile"):
                out[key] = int(line.split()[1])
        return out

    queries = np.random.default_rng(0).standard_normal((20, 512)).astype("float32")
    before = rss()
    if sys.argv[2] == "mapped":
        index = VectorIndex.load(sys.argv[1])
        index.nprobe = 10**6  # visit every list: every code is read
        index.search(queries, 5)
    else:  # control: the same base read into memory
        index = faiss.read_index(sys.argv[1].replace(".faiss", ".ivf"))
        index.nprobe = index.nlist
        index.search(queries, 5)
    after = rss()
    print(json.dumps({k: after[k] - before[k] for k in after}))
    """
)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_loaded_base_is_served_from_the_page_cache_not_copied(tmp_path):
    n = 16_000  # 8 MB of 512-d 8-bit codes
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 512)).astype(np.float32)
    index = VectorIndex(512, ann_threshold=1000)
    index.add(np.arange(n), x)
    assert index.kind == "ivf"
    index.save(tmp_path / "big.faiss")
    codes_kb = n * 512 // 1024

    def probe(mode: str) -> dict:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        done = subprocess.run(
            [sys.executable, "-c", _RSS_PROBE, str(tmp_path / "big.faiss"), mode],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            cwd=Path(__file__).resolve().parents[2],
        )
        return json.loads(done.stdout.strip().splitlines()[-1])

    mapped, copied = probe("mapped"), probe("copied")
    assert mapped["RssFile"] > 0.8 * codes_kb and mapped["RssAnon"] < 0.3 * codes_kb
    assert copied["RssAnon"] > 0.8 * codes_kb  # the control: a plain read copies the codes


def test_a_base_goes_with_the_index_to_another_folder_and_a_missing_one_is_an_error(tmp_path):
    index, ids, _ = _ivf()
    index.save(tmp_path / "a" / "one.faiss")
    loaded = VectorIndex.load(tmp_path / "a" / "one.faiss")
    loaded.save(tmp_path / "b" / "two.faiss")  # a base is always next to its manifests
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["two.faiss", "two.ivf"]
    (tmp_path / "a" / "one.ivf").unlink()
    moved = VectorIndex.load(tmp_path / "b" / "two.faiss")
    np.testing.assert_array_equal(np.sort(moved.ids()), np.sort(ids))
    with pytest.raises(FileNotFoundError):  # callers read the pointer again
        VectorIndex.load(tmp_path / "a" / "one.faiss")
