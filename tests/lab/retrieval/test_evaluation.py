"""The evaluation (``retrieval.lab evaluate``): JSON fields, query/gallery selection, and mAP
on known rankings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from retrieval.engine.heads import bootstrap_conv6_head, load_head, save_head
from retrieval.engine.model import head_vectors
from retrieval.engine.pipeline import mirror_mean
from retrieval.engine.query_expansion import expand_against
from retrieval.lab import evaluation
from retrieval.lab.data import SketchPhotoDataset
from retrieval.lab.evaluation import asked_queries, rank_summary, select
from retrieval.lab.featurize import dataset_features
from retrieval.lab.jobs import main
from tests.lab.general_fakes import SHAPES, FakeExtractor, make_dataset

REQUIRED = ("map", "p_at_10", "p_at_20", "queries", "photos", "categories", "seconds", "model")


class FakeEngine:
    """The product Engine's evaluation surface over the fast stand-in extractor."""

    def __init__(self, config) -> None:
        self.config = config
        self.extractor = FakeExtractor()
        self.head = load_head(config.head_path)
        self.model_version = "fake-model"
        self.trunk = "vgg16_hed"
        self.edge_method = "canny"

    def head_vectors(self, features):
        return head_vectors(self.head, features)


@pytest.fixture(scope="module")
def shapes_dir(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("shapes"), photos=5, sketches_per_photo=2)


@pytest.fixture()
def checkpoint(tmp_path):
    path = tmp_path / "head.pt"
    save_head(bootstrap_conv6_head(), path, metadata={"edge_method": "canny"})
    return path


@pytest.fixture(autouse=True)
def fake_engine(monkeypatch):
    monkeypatch.setattr(evaluation, "Engine", FakeEngine)


def _run(capsys, *argv):
    assert main(["evaluate", *argv, "--no-progress"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_fields_all_queries(tmp_path, shapes_dir, checkpoint, capsys):
    out = tmp_path / "r.json"
    argv = ["--data", str(shapes_dir), "--checkpoint", str(checkpoint), "--json", str(out)]
    result = _run(capsys, *argv, "--cache-dir", str(tmp_path / "c"))
    assert set(REQUIRED) <= set(result)
    assert json.loads(out.read_text()) == result
    assert result["queries"] == 10 * len(SHAPES)
    assert result["photos"] == 5 * len(SHAPES)
    assert result["categories"] == len(SHAPES)
    assert result["model"]["edge_method"] == "canny"
    assert result["chance"] == pytest.approx(1 / len(SHAPES))
    assert 0.0 <= result["map"] <= 1.0 and 0.0 <= result["p_at_10"] <= 1.0


def test_test_queries_and_unseen_split(tmp_path, shapes_dir, checkpoint, capsys):
    base = ["--data", str(shapes_dir), "--checkpoint", str(checkpoint)]
    base += ["--cache-dir", str(tmp_path / "c")]
    test = _run(capsys, *base, "--queries", "test")
    assert test["queries"] == 3 * len(SHAPES)  # round(0.3 * 10) per category
    unseen = _run(capsys, *base, "--holdout-categories", "2", "--split", "unseen")
    assert unseen["categories"] == 2 and unseen["photos"] == 10 and unseen["queries"] == 20
    assert unseen["chance"] == pytest.approx(0.5)
    seen = _run(capsys, *base, "--holdout-categories", "2", "--split", "seen", "--queries", "test")
    assert seen["categories"] == 2 and seen["photos"] == 20 and seen["queries"] == 6


def test_missing_folder_is_an_error(tmp_path, checkpoint, capsys):
    argv = ["--data", str(tmp_path / "nope"), "--checkpoint", str(checkpoint)]
    assert main(["evaluate", *argv]) == 2
    assert "error:" in capsys.readouterr().err


def test_select_any_category_names(shapes_dir):
    dataset = SketchPhotoDataset.scan(shapes_dir)
    q, g = select(dataset, queries="all", holdout=0, split="seen", seed=0)
    assert len(q) == len(dataset.sketches) and len(g) == len(dataset.photos)


def _labels(n_classes: int, per: int) -> np.ndarray:
    return np.repeat(np.arange(n_classes), per)


def test_perfect_ranking_gives_map_one():
    gallery_labels = _labels(10, 25)
    query_labels = _labels(10, 3)
    onehot = np.eye(10, dtype=np.float32)
    result = rank_summary(
        onehot[query_labels], query_labels, onehot[gallery_labels], gallery_labels
    )
    assert result["map"] == pytest.approx(1.0)
    assert result["p_at_10"] == pytest.approx(1.0) and result["p_at_20"] == pytest.approx(1.0)


def test_reversed_ranking_is_worse_than_chance_and_random_is_near_chance():
    gallery_labels = _labels(10, 25)
    query_labels = _labels(10, 5)
    onehot = np.eye(10, dtype=np.float32)
    # Queries sit far from their own class: every relevant photo ranks last.
    worst = rank_summary(
        -onehot[query_labels], query_labels, onehot[gallery_labels], gallery_labels
    )
    assert worst["p_at_20"] == 0.0 and worst["map"] < 0.1
    rng = np.random.default_rng(0)
    random = rank_summary(
        rng.normal(size=(2000, 16)),
        rng.integers(0, 10, 2000),
        rng.normal(size=(250, 16)),
        gallery_labels,
    )
    assert random["chance"] == pytest.approx(0.1)
    assert 0.08 < random["map"] < 0.16
    assert 0.06 < random["p_at_10"] < 0.14


def test_hog_baseline_ranks_the_same_queries_with_the_same_json(shapes_dir, tmp_path, capsys):
    out = tmp_path / "hog.json"
    code = main(
        [
            "evaluate",
            "--data",
            str(shapes_dir),
            "--baseline",
            "hog",
            "--json",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    result = json.loads(out.read_text())
    assert all(key in result for key in REQUIRED)
    assert result["model"]["baseline"] == "hog"
    assert result["queries"] == len(SketchPhotoDataset.scan(shapes_dir).sketches)
    # Filled shapes against outlines: HOG of edges tells the four shapes apart well above
    # chance (0.25 with four categories).
    assert result["map"] > 0.4


def test_ranks_as_served_and_each_step_can_be_switched_off(
    tmp_path, shapes_dir, checkpoint, capsys
):
    base = ["--data", str(shapes_dir), "--checkpoint", str(checkpoint)]
    base += ["--cache-dir", str(tmp_path / "c")]
    served = _run(capsys, *base)
    assert served["model"]["query_expansion"] == evaluation.DEFAULT_NEIGHBOURS
    assert served["model"]["mirror_queries"] is True
    plain = _run(capsys, *base, "--query-expansion", "0", "--no-mirror-queries")
    assert plain["model"]["query_expansion"] == 0 and plain["model"]["mirror_queries"] is False
    # The plain figures are the nearest-neighbour ranking of the head's own vectors.
    dataset = SketchPhotoDataset.scan(shapes_dir)
    extractor = FakeExtractor()
    head = load_head(checkpoint)
    photo_feats, sketch_feats = dataset_features(dataset, extractor, tmp_path / "c", progress=False)
    expected = rank_summary(
        head_vectors(head, sketch_feats.astype(np.float16)),
        np.array([s.category for s in dataset.sketches], dtype=object),
        head_vectors(head, photo_feats.astype(np.float16)),
        np.array([p.category for p in dataset.photos], dtype=object),
    )
    assert plain["map"] == pytest.approx(expected["map"])
    expanded = _run(capsys, *base, "--no-mirror-queries")
    mirrored = _run(capsys, *base, "--query-expansion", "0")
    assert expanded["map"] != pytest.approx(plain["map"])
    assert mirrored["map"] != pytest.approx(plain["map"])


def test_negative_query_expansion_is_an_error(tmp_path, shapes_dir, checkpoint, capsys):
    argv = ["--data", str(shapes_dir), "--checkpoint", str(checkpoint)]
    assert main(["evaluate", *argv, "--query-expansion", "-1", "--no-progress"]) == 2
    assert "query_expansion" in capsys.readouterr().err


def test_queries_are_asked_as_search_asks_them_mirror_then_expansion():
    rng = np.random.default_rng(5)

    def unit(x):
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    queries, mirrored, gallery = (
        unit(rng.normal(size=(4, 8))),
        unit(rng.normal(size=(4, 8))),
        (unit(rng.normal(size=(10, 8)))),
    )
    assert asked_queries(queries, gallery, query_expansion=0) is queries
    np.testing.assert_allclose(
        asked_queries(queries, gallery, mirrored=mirrored, query_expansion=3),
        expand_against(mirror_mean(queries, mirrored), gallery, 3),
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="query_expansion"):
        asked_queries(queries, gallery, query_expansion=-1)
