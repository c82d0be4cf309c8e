"""Eq. 14 as used by fine-tuning, and what fine-tuning achieves on synthetic conv5 maps."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from personalization.engine.dataset import FeedbackItem, build_training_set
from personalization.engine.finetune import FinetuneConfig, finetune_head, make_loss
from personalization.engine.grouping import PhotoPool
from personalization.lab.synthetic import SyntheticLibrary, general_head
from retrieval.engine.heads import new_head
from retrieval.engine.model import head_vectors

Q = 100.0


def loss_at(d: float, y: float) -> float:
    loss = make_loss(FinetuneConfig())
    v_s = torch.zeros(1, 512)
    v_c = torch.zeros(1, 512)
    v_c[0, 0] = d
    return float(loss(v_s, v_c, torch.tensor([y])))


def test_paper_constants():
    config = FinetuneConfig()
    assert config.q_for("vgg16_hed") == 100.0  # the paper's Q on conv6 distances
    # Unit-vector heads: distances in [0, 2], Q on that scale; an explicit Q always wins.
    assert config.q_for("efficientnet_lite2") == 2.0
    assert FinetuneConfig(q=7.0).q_for("efficientnet_lite2") == 7.0
    assert (config.rounds, config.lr, config.lr_halve_every) == (20, 1e-4, 5)


@pytest.mark.parametrize(
    ("d", "y", "expected"),
    [
        (20.0, 0.0, 2 / Q * (20 - 10) ** 2),  # L_S = 2/Q (d - h1)^2 = 2.0
        (20.0, 0.5, 2 / Q * (20 - 50) ** 2),  # L_M = 2/Q (d - h2)^2 = 18.0
        (20.0, 1.0, 2 * Q * math.exp(-2.77 * 20 / Q)),  # L_W = 2Q e^(-2.77 d / Q) = 114.93
        (0.0, 1.0, 2 * Q),
        (80.0, 0.0, 2 / Q * 70**2),
    ],
)
def test_eq14_values_at_hand_computed_points(d: float, y: float, expected: float):
    assert loss_at(d, y) == pytest.approx(expected, rel=1e-5)


def test_each_label_selects_only_its_own_branch():
    # At its own threshold a branch is 0, so any leak from another branch would show.
    assert loss_at(10.0, 0.0) == pytest.approx(0.0, abs=1e-6)  # L_M, L_W would be > 0
    assert loss_at(50.0, 0.5) == pytest.approx(0.0, abs=1e-6)  # L_S, L_W would be > 0
    assert loss_at(10.0, 1.0) == pytest.approx(2 * Q * math.exp(-0.277), rel=1e-5)  # not L_S


def tiny_problem(sketches: int = 4):
    lib = SyntheticLibrary(parents=2, subs=2, per_sub=3, seed=3)
    pool = PhotoPool(
        ids=np.arange(lib.size),
        parents=np.array([f"p{p}" for p in lib.parent_of]),
        subs=np.array([f"s{s}" for s in lib.sub_of]),
    )
    items = [FeedbackItem(k, "L", (0,)) for k in range(sketches)]
    ts = build_training_set(items, {"L": pool}, per_branch=4)
    return lib, ts, lib.sketch_maps(0, sketches), lib.photo_maps(ts.photo_ids)


def test_training_minimises_eq14_of_the_reinitialised_head():
    # lr = 0: the recorded loss of the single round is eq. 14 (eq. 15 mean) of the fresh
    # head, recomputed here independently with numpy.
    lib, ts, sketch_maps, photo_maps = tiny_problem()
    config = FinetuneConfig(rounds=1, batch_size=10_000, lr=0.0, seed=5)
    result = finetune_head(ts, sketch_maps=sketch_maps, photo_maps=photo_maps, config=config)
    fresh = new_head("vgg16_hed", 5)
    vs = head_vectors(fresh, sketch_maps)[ts.sketch_index]
    vc = head_vectors(fresh, photo_maps)[ts.photo_index]
    d = np.linalg.norm(vs.astype(np.float64) - vc, axis=1)
    y = ts.labels.astype(np.float64)
    terms = np.where(
        y == 0.0,
        2 / Q * (d - 10) ** 2,
        np.where(y == 0.5, 2 / Q * (d - 50) ** 2, 2 * Q * np.exp(-2.77 * d / Q)),
    )
    assert result.losses == [pytest.approx(terms.mean(), rel=1e-4)]
    assert not result.diverged


def test_head_is_reinitialised_not_copied_from_the_general_model():
    lib, ts, sketch_maps, photo_maps = tiny_problem()
    config = FinetuneConfig(rounds=1, lr=0.0, seed=5)
    result = finetune_head(ts, sketch_maps=sketch_maps, photo_maps=photo_maps, config=config)
    general = general_head()
    assert not torch.equal(result.head.conv6_2.weight, general.conv6_2.weight)
    assert torch.equal(result.head.conv6_2.weight, new_head("vgg16_hed", 5).conv6_2.weight)


def test_learning_rate_halves_every_five_rounds():
    lib, ts, sketch_maps, photo_maps = tiny_problem(sketches=1)
    config = FinetuneConfig(rounds=11, batch_size=10_000)
    result = finetune_head(ts, sketch_maps=sketch_maps, photo_maps=photo_maps, config=config)
    assert result.lrs == pytest.approx([1e-4] * 5 + [5e-5] * 5 + [2.5e-5])
    assert len(result.losses) == 11 and result.steps == 11


def test_non_finite_loss_is_reported_as_divergence():
    lib, ts, sketch_maps, photo_maps = tiny_problem()
    sketch_maps = sketch_maps.astype(np.float16)
    sketch_maps[0, 0, 0, 0] = np.inf
    result = finetune_head(
        ts, sketch_maps=sketch_maps, photo_maps=photo_maps, config=FinetuneConfig(rounds=3)
    )
    assert result.diverged and "loss became" in result.error
    assert result.losses == []  # stopped in the first round


def precision_at(sketch_vecs: np.ndarray, photo_vecs: np.ndarray, relevant: np.ndarray, k: int):
    d = np.linalg.norm(photo_vecs[None] - sketch_vecs[:, None], axis=2)
    top = np.argsort(d, axis=1, kind="stable")[:, :k]
    return float(relevant[top].mean())


def test_simulated_user_gets_their_subcategory_ranked_higher():
    """A user who always picks sub-category 0 of parent 0 (e.g. "moon", never "balloon").

    Sketches carry the parent's pattern only; the general head cannot see sub-categories.
    Fine-tuning on 5 marked sketches must raise precision@k of sub-category 0 for NEW
    sketches of that parent, from chance (~1/3) to well above, with a margin.
    """
    lib = SyntheticLibrary(parents=3, subs=3, per_sub=4, seed=11)
    photos = lib.photo_maps(np.arange(lib.size))
    pool = PhotoPool(
        ids=np.arange(lib.size),
        parents=np.array([f"p{p}" for p in lib.parent_of]),
        subs=np.array([f"s{s}" for s in lib.sub_of]),
    )
    general = general_head()
    g_photos = head_vectors(general, photos)
    train_sketches = lib.sketch_maps(0, 5, salt=1)
    g_train = head_vectors(general, train_sketches)
    items = []
    for k in range(5):
        # The user's pick: their sub-category's best photo in the general ranking.
        order = np.argsort(np.linalg.norm(g_photos - g_train[k], axis=1), kind="stable")
        pick = next(int(i) for i in order if lib.sub_of[i] == 0)
        items.append(FeedbackItem(k, "L", (pick,)))
    ts = build_training_set(items, {"L": pool}, per_branch=8)
    result = finetune_head(
        ts,
        sketch_maps=train_sketches,
        photo_maps=photos[ts.photo_ids],
        config=FinetuneConfig(rounds=4, seed=1),
    )
    assert not result.diverged
    assert result.losses[-1] < result.losses[0]

    test_sketches = lib.sketch_maps(0, 8, salt=2)  # unseen sketches of the same parent
    relevant = lib.sub_of == 0
    k = lib.per_sub
    before = precision_at(head_vectors(general, test_sketches), g_photos, relevant, k)
    after = precision_at(
        head_vectors(result.head, test_sketches), head_vectors(result.head, photos), relevant, k
    )
    assert before < 0.5  # the general head mixes the parent's sub-categories
    assert after >= before + 0.3, f"precision@{k}: general {before:.2f}, personal {after:.2f}"
