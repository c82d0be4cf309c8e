"""Eq. 9: labels Y in {0, 0.5, 1} by sub-category / parent, and the 1:1:1 ratio."""

from __future__ import annotations

import numpy as np
import pytest

from personalization.engine.dataset import FeedbackItem, build_training_set
from personalization.engine.grouping import PhotoPool, groups_for_choice, kmeans


def labelled_pool() -> PhotoPool:
    # ids 100..; parent A has subs a1 (3 photos), a2 (2); parent B has b1 (4); one unlabelled.
    parents = ["A", "A", "A", "A", "A", "B", "B", "B", "B", ""]
    subs = ["a1", "a1", "a1", "a2", "a2", "b1", "b1", "b1", "b1", ""]
    return PhotoPool(ids=np.arange(100, 110), parents=np.array(parents), subs=np.array(subs))


def labels_of(ts, pool):
    parent = dict(zip(pool.ids.tolist(), pool.parents.tolist(), strict=True))
    sub = dict(zip(pool.ids.tolist(), pool.subs.tolist(), strict=True))
    photo = ts.photo_ids[ts.photo_index]
    return [(parent[p], sub[p], float(y)) for p, y in zip(photo.tolist(), ts.labels, strict=True)]


def test_labels_follow_eq9_and_ratio_is_one_to_one_to_one():
    pool = labelled_pool()
    ts = build_training_set([FeedbackItem(1, "L", (101,))], {"L": pool}, per_branch=10)
    assert ts.counts() == {0.0: 10, 0.5: 10, 1.0: 10}
    for parent, sub, y in labels_of(ts, pool):
        if y == 0.0:
            assert (parent, sub) == ("A", "a1")
        elif y == 0.5:
            assert parent == "A" and sub != "a1"
        else:
            assert parent == "B"  # the unlabelled photo is never a (guessed) negative
    assert ts.rules == {1: "labels"}
    assert ts.sketch_keys == [1] and set(ts.sketch_index.tolist()) == {0}


def test_small_branches_repeat_every_member_and_large_ones_sample_without_replacement():
    pool = labelled_pool()
    ts = build_training_set([FeedbackItem(1, "L", (103,))], {"L": pool}, per_branch=3)
    photo = ts.photo_ids[ts.photo_index]
    positives = sorted(photo[ts.labels == 0.0].tolist())
    negatives = photo[ts.labels == 1.0].tolist()
    assert set(positives) == {103, 104}  # both a2 photos appear (sub-category of 2, n = 3)
    assert len(set(negatives)) == 3  # 4 negatives available: drawn without replacement


def test_several_chosen_photos_of_one_sketch_share_the_positive_branch():
    pool = labelled_pool()
    ts = build_training_set([FeedbackItem(1, "L", (100, 103))], {"L": pool}, per_branch=6)
    rows = labels_of(ts, pool)
    assert {sub for _, sub, y in rows if y == 0.0} == {"a1", "a2"}
    assert ts.counts()[0.5] == 0 and ts.missing == {1: [0.5]}  # no other sub-category left
    assert ts.counts()[0.0] == ts.counts()[1.0] == 6


def test_many_sketches_each_get_their_own_branches():
    pool = labelled_pool()
    items = [FeedbackItem(1, "L", (100,)), FeedbackItem(2, "L", (105,))]
    ts = build_training_set(items, {"L": pool}, per_branch=4)
    assert len(ts) == 4 * 3 + 4 * 2  # sketch 2 (parent B, one sub) has no Y = 0.5 branch
    for s_index, key in enumerate(ts.sketch_keys):
        assert (ts.sketch_index == s_index).sum() in (8, 12)
        assert key in (1, 2)


def test_sketch_without_anything_to_contrast_is_skipped():
    pool = PhotoPool(ids=np.arange(3), parents=np.array(["A"] * 3), subs=np.array(["a"] * 3))
    ts = build_training_set([FeedbackItem(9, "L", (0,))], {"L": pool}, per_branch=5)
    assert len(ts) == 0 and 9 in ts.skipped


def test_chosen_photo_outside_the_pool_is_skipped():
    ts = build_training_set([FeedbackItem(9, "L", (555,))], {"L": labelled_pool()}, per_branch=5)
    assert len(ts) == 0 and "not in the searched libraries" in ts.skipped[9]


def test_same_seed_same_set():
    pool = labelled_pool()
    a = build_training_set([FeedbackItem(1, "L", (101,))], {"L": pool}, per_branch=5, seed=3)
    b = build_training_set([FeedbackItem(1, "L", (101,))], {"L": pool}, per_branch=5, seed=3)
    assert np.array_equal(a.photo_ids[a.photo_index], b.photo_ids[b.photo_index])


# --- derived groups when labels are missing -----------------------------------------------


def blob_pool(rng: np.random.Generator) -> PhotoPool:
    # Two well separated parents (clusters) of 10 photos; no labels at all.
    centres = np.array([[0.0] * 8, [50.0] * 8])
    vectors = np.concatenate([c + rng.normal(size=(10, 8)) for c in centres]).astype(np.float32)
    n = len(vectors)
    return PhotoPool(
        ids=np.arange(n) + 1000,
        parents=np.array([""] * n),
        subs=np.array([""] * n),
        general_vectors=vectors,
    )


def test_kmeans_recovers_separated_clusters_deterministically():
    pool = blob_pool(np.random.default_rng(0))
    labels = kmeans(pool.general_vectors, 2, seed=1)
    assert len(set(labels[:10].tolist())) == 1 and len(set(labels[10:].tolist())) == 1
    assert labels[0] != labels[10]
    assert np.array_equal(labels, kmeans(pool.general_vectors, 2, seed=1))


def test_derived_rule_parent_is_cluster_and_sub_is_choice_plus_neighbours():
    pool = blob_pool(np.random.default_rng(0))
    parents = kmeans(pool.general_vectors, 2, seed=0)
    groups = groups_for_choice(pool, np.array([0]), derived_parents=parents, neighbours=2)
    assert groups.rule == "derived"
    distances = np.linalg.norm(pool.general_vectors[1:10] - pool.general_vectors[0], axis=1)
    nearest = set((np.argsort(distances)[:2] + 1).tolist())
    assert set(groups.positive.tolist()) == {0} | nearest
    assert set(groups.general.tolist()) == set(range(10)) - {0} - nearest
    assert set(groups.negative.tolist()) == set(range(10, 20))


def test_labelled_parent_with_missing_subcategory_derives_only_the_sub():
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(6, 4)).astype(np.float32)
    pool = PhotoPool(
        ids=np.arange(6),
        parents=np.array(["A", "A", "A", "A", "B", "B"]),
        subs=np.array(["", "", "", "", "", ""]),
        general_vectors=vectors,
    )
    groups = groups_for_choice(pool, np.array([0]), neighbours=1)
    assert groups.rule == "derived-sub"
    assert len(groups.positive) == 2 and 0 in groups.positive
    assert set(groups.negative.tolist()) == {4, 5}


def test_missing_labels_without_vectors_is_an_error():
    pool = PhotoPool(ids=np.arange(2), parents=np.array(["", ""]), subs=np.array(["", ""]))
    with pytest.raises(ValueError, match="no general vectors"):
        build_training_set([FeedbackItem(1, "L", (0,))], {"L": pool}, per_branch=2)
