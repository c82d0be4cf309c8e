"""The general head's training (``retrieval.lab train``) end to end on tiny synthetic shapes
(conv1-5 replaced by a fast stand-in)."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

from retrieval.engine.heads import head_metadata, load_head, new_head
from retrieval.lab.data import SketchPhotoDataset
from retrieval.lab.jobs import main, train
from retrieval.lab.splits import holdout_categories, make_splits
from retrieval.lab.training import general_head
from tests.lab.general_fakes import FakeExtractor, make_dataset


@pytest.fixture(scope="module")
def shapes_dir(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("shapes"), photos=3, sketches_per_photo=2)


def _args(tmp_path, shapes_dir, *extra: str, trunk: str = "vgg16_hed"):
    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    return parser.parse_args(
        [
            "--data", str(shapes_dir),
            "--trunk", trunk,
            "--out", str(tmp_path / "head.pt"),
            "--cache-dir", str(tmp_path / "cache"),
            "--holdout-categories", "1",
            "--val-categories", "1",
            "--epochs", "2",
            "--batch-size", "8",
            "--no-progress",
            *extra,
        ]
    )  # fmt: skip


def test_trains_and_writes_a_loadable_head(tmp_path, shapes_dir):
    meta = general_head.train(_args(tmp_path, shapes_dir), extractor=FakeExtractor())
    head = load_head(tmp_path / "head.pt")
    assert head(torch.zeros(1, 512, 8, 8)).shape == (1, 512)
    saved = head_metadata(tmp_path / "head.pt")
    assert saved["edge_method"] == "canny"
    trained = saved["trained_on"]
    held, val = trained["holdout_categories"], trained["val_categories"]
    assert len(held) == 1 and len(val) == 1 and held != val
    assert not set(held + val) & set(trained["categories"])
    assert len(meta["history"]) == 2
    assert all(0.0 <= row["val_map"] <= 1.0 for row in meta["history"])
    assert general_head.state_path(tmp_path / "head.pt").is_file()


def test_interrupted_run_resumes_to_the_same_head(tmp_path, shapes_dir, monkeypatch, capsys):
    reference_dir = tmp_path / "ref"
    reference_dir.mkdir()
    general_head.train(_args(reference_dir, shapes_dir), extractor=FakeExtractor())
    reference = load_head(reference_dir / "head.pt").state_dict()

    real_train_head = general_head.train_head

    def interrupted(*args, on_epoch, **kwargs):
        def stop_after_first(epoch, head, state):
            on_epoch(epoch, head, state)
            raise KeyboardInterrupt

        return real_train_head(*args, on_epoch=stop_after_first, **kwargs)

    monkeypatch.setattr(general_head, "train_head", interrupted)
    with pytest.raises(KeyboardInterrupt):
        general_head.train(_args(tmp_path, shapes_dir), extractor=FakeExtractor())
    assert not (tmp_path / "head.pt").exists()
    monkeypatch.setattr(general_head, "train_head", real_train_head)

    extractor = FakeExtractor()
    meta = general_head.train(_args(tmp_path, shapes_dir), extractor=extractor)
    assert "resuming after epoch 1" in capsys.readouterr().err
    assert extractor.calls == 0  # every conv5 map came from the cache
    assert [row["epoch"] for row in meta["history"]] == [1, 2]
    resumed = load_head(tmp_path / "head.pt").state_dict()
    for key, value in reference.items():
        torch.testing.assert_close(resumed[key], value)


def test_paper_recipe_runs(tmp_path, shapes_dir):
    args = _args(tmp_path, shapes_dir, "--recipe", "paper", "--epochs", "1")
    meta = general_head.train(args, extractor=FakeExtractor())
    assert meta["recipe"]["recipe"] == "paper"
    assert np.isfinite(meta["history"][0]["loss"])


def test_main_prints_json(tmp_path, shapes_dir, monkeypatch, capsys):
    monkeypatch.setattr(general_head, "FeatureExtractor", lambda **_: FakeExtractor())
    argv = [
        "--data",
        str(shapes_dir),
        "--trunk",
        "vgg16_hed",
        "--out",
        str(tmp_path / "h.pt"),
        "--epochs",
        "1",
    ]
    argv += ["--cache-dir", str(tmp_path / "c"), "--holdout-categories", "1", "--no-progress"]
    assert main(["train", *argv]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["out"].endswith("h.pt")


def test_splits_keep_test_sketches_and_holdout_apart(shapes_dir):
    dataset = SketchPhotoDataset.scan(shapes_dir)
    splits = make_splits(dataset, holdout=1, seed=3)
    assert not set(splits.train_sketches) & set(splits.test_sketches)
    held = set(splits.unseen)
    for i in splits.train_sketches + splits.test_sketches:
        assert dataset.sketches[i].category not in held
    assert all(dataset.sketches[i].category in held for i in splits.unseen_sketches)
    assert all(dataset.photos[i].category not in held for i in splits.seen_photos)
    # 6 sketches per category: round(1.8) = 2 test sketches each.
    assert len(splits.test_sketches) == 2 * len(splits.seen)
    # The split of a category does not depend on which other categories the folder holds.
    alone = make_splits(dataset.restrict([splits.seen[0]]), holdout=0, seed=3)
    names = {dataset.sketches[i].relpath for i in splits.test_sketches}
    assert {
        alone_s.relpath
        for alone_s in (dataset.restrict([splits.seen[0]]).sketches[i] for i in alone.test_sketches)
    } <= names


def test_holdout_is_seeded_and_sized():
    cats = [f"c{i:03d}" for i in range(100)]
    a = holdout_categories(cats, 20, seed=0)
    assert a == holdout_categories(list(reversed(cats)), 20, seed=0)
    assert len(set(a)) == 20 and a != holdout_categories(cats, 20, seed=1)
    with pytest.raises(ValueError):
        holdout_categories(cats, 100)


def test_the_product_recipe_trains_an_efficientnet_head_on_cached_views(tmp_path, shapes_dir):
    args = _args(
        tmp_path,
        shapes_dir,
        "--photo-views", "orig,flip",
        "--sketch-views", "orig,thick",
        trunk="efficientnet_lite0",
    )  # fmt: skip
    meta = general_head.train(args)
    saved = head_metadata(tmp_path / "head.pt")
    assert saved["trunk"] == "efficientnet_lite0"
    assert saved["photo_views"] == ["orig", "flip"]
    trained = saved["trained_on"]
    held, val = trained["holdout_categories"], trained["val_categories"]
    assert not set(held + val) & set(trained["categories"])
    # Epoch 0 is the untrained head, then one row per epoch, each with validation figures.
    assert [row["epoch"] for row in meta["history"]] == [0, 1, 2]
    assert all(0.0 <= row["val_map"] <= 1.0 for row in meta["history"])
    head = load_head(tmp_path / "head.pt")
    assert head(torch.zeros(1, 192, 8, 8)).shape == (1, 512)
    # The trained head moved away from its ImageNet start (it was trained, not just saved).
    assert not torch.equal(head.fc.weight, new_head("efficientnet_lite0", 0).fc.weight)
