"""The section V protocol: fine-grained metrics, mixed rankings, feedback baselines, user
simulation, and the whole command end to end on a tiny synthetic dataset and a photo library."""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.core.management import call_command

from personalization.engine.closeness import Band, ClosenessRule
from personalization.engine.finetune import FinetuneConfig
from personalization.lab.jobs import main
from personalization.lab.jobs import protocol as protocol_job
from personalization.lab.protocol import personal as protocol_personal
from personalization.lab.protocol import runner
from personalization.lab.protocol.baselines import nn_rerank_distances, rocchio_queries
from personalization.lab.protocol.data import load_dataset, multi_sub_parents, select
from personalization.lab.protocol.metrics import (
    category_means,
    fine_grained_relevance,
    query_aps,
    summary,
)
from personalization.lab.protocol.mixed import (
    MixedUser,
    Subject,
    mixed_user_rounds,
    mixed_verdict,
    product_scores,
    subject_aps,
)
from personalization.lab.protocol.personal import (
    Gallery,
    PersonalConfig,
    UserTask,
    calibrated,
    first_of_sub,
    mixed_ranking,
    personal_distance_matrix,
    rerank,
    table3_user,
)
from personalization.lab.synthetic import SyntheticLibrary, general_head
from personalization.lab.synthetic_dataset import make_synthetic_dataset
from retrieval.engine.model import head_vectors
from retrieval.engine.query_expansion import DEFAULT_NEIGHBOURS, expand_against
from retrieval.lab.metrics import rank, relevance_matrix
from retrieval.lab.splits import sketch_split

# --- metrics on hand-made rankings ---------------------------------------------------------


def test_fine_grained_relevance_needs_parent_and_sub():
    parents = np.array(["ape", "ape", "ape", "bee"], dtype=object)
    subs = np.array(["gorilla", "chimp", "gorilla", "gorilla"], dtype=object)
    ranked = np.array([[3, 1, 0, 2], [0, 2, 1, 3]])
    rel = fine_grained_relevance(ranked, "ape", "gorilla", parents, subs)
    # Photo 3 is a "gorilla" of another parent: not relevant.
    np.testing.assert_array_equal(rel, [[0, 0, 1, 1], [1, 1, 0, 0]])
    aps = query_aps(rel)
    assert aps[0] == pytest.approx((1 / 3 + 2 / 4) / 2)
    assert aps[1] == pytest.approx(1.0)


def test_summary_means_over_queries_and_over_categories():
    # Category a: two queries with AP 1 and 0.5; category b: one query with AP 1/3.
    rel = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], bool)
    out = summary(rel, ["a", "a", "b"], ks=(1, 2))
    assert out["map"] == pytest.approx((1 + 0.5 + 1 / 3) / 3)
    assert out["map_by_category"] == pytest.approx(((1 + 0.5) / 2 + 1 / 3) / 2)
    assert out["per_category_ap"] == pytest.approx({"a": 0.75, "b": 1 / 3})
    assert out["p_at_1"] == pytest.approx(1 / 3)
    assert out["p_at_2"] == pytest.approx((0.5 + 0.5 + 0) / 3)
    assert out["chance"] == pytest.approx(1 / 3)
    assert len(out["pr_curve"]["recall"]) == len(out["pr_curve"]["precision"]) == 11


def test_category_means_ignore_nan():
    assert category_means([1.0, float("nan"), 0.5], ["x", "x", "y"]) == {"x": 1.0, "y": 0.5}


def test_rank_removes_the_excluded_item_of_each_query():
    dist = np.array([[0.0, 2.0, 1.0], [3.0, 0.0, 1.0]])
    np.testing.assert_array_equal(rank(dist), [[0, 2, 1], [1, 2, 0]])
    np.testing.assert_array_equal(rank(dist, np.array([0, 1])), [[2, 1], [2, 0]])
    with pytest.raises(ValueError):
        rank(dist, np.array([0, -1]))
    rel = relevance_matrix(np.array([[2, 1]]), ["a"], ["a", "b", "a"])
    np.testing.assert_array_equal(rel, [[True, False]])


def test_mixed_ranking_whole_gallery_and_candidates():
    d_general = np.array([[1.0, 2.0, 3.0, 4.0]])
    d_personal = np.array([[9.0, 1.0, 0.0, 0.0]])
    # w = 1 over the whole gallery: personal order, ties by gallery order.
    np.testing.assert_array_equal(
        mixed_ranking(d_general, d_personal, 1.0, candidates=0, exclude=None), [[2, 3, 1, 0]]
    )
    # w = 0.5: (5, 1.5, 1.5, 2) -> 1, 2, 3, 0.
    np.testing.assert_array_equal(
        mixed_ranking(d_general, d_personal, 0.5, candidates=0, exclude=None), [[1, 2, 3, 0]]
    )
    # Only the general top 2 (photos 0, 1) are re-scored; 2 and 3 follow in general order.
    np.testing.assert_array_equal(
        mixed_ranking(d_general, d_personal, 1.0, candidates=2, exclude=None), [[1, 0, 2, 3]]
    )
    np.testing.assert_array_equal(
        mixed_ranking(d_general, d_personal, 0.0, candidates=2, exclude=None), [[0, 1, 2, 3]]
    )


def test_first_of_sub_is_the_users_simulated_pick():
    ranked = np.array([[4, 2, 0, 1, 3], [0, 1, 3, 2, 4]])
    target = np.array([False, False, True, True, False])
    np.testing.assert_array_equal(first_of_sub(ranked, target), [2, 3])
    with pytest.raises(ValueError):
        first_of_sub(ranked, np.zeros(5, bool))


# --- relevance-feedback baselines on toy vectors -------------------------------------------


def test_rocchio_moves_the_query_by_normalised_smart_weights():
    q = np.array([[0.0, 0.0]])
    marked = np.array([[4.0, 0.0], [2.0, 2.0]])  # centroid (3, 1)
    unmarked = np.array([[0.0, 10.0]])
    moved = rocchio_queries(q, marked, unmarked)
    expected = (1.0 * q + 0.75 * np.array([3.0, 1.0]) - 0.15 * np.array([0.0, 10.0])) / 1.6
    np.testing.assert_allclose(moved, expected)
    # Without marks the query stays where it is.
    np.testing.assert_allclose(rocchio_queries(q, np.zeros((0, 2)), None), q)


def test_rocchio_brings_the_marked_side_forward():
    gallery = np.array([[-1.0, 0.0], [1.0, 0.0]])
    q = np.array([[0.0, 0.0]])  # equidistant: gallery order
    assert rank(((gallery - q) ** 2).sum(1)[None])[0, 0] == 0
    moved = rocchio_queries(q, gallery[[1]], gallery[[0]])
    assert rank(((gallery - moved) ** 2).sum(1)[None])[0, 0] == 1


def test_nn_rerank_mixes_query_and_nearest_mark_distance():
    gallery = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    q = np.array([[0.0, 1.0]])
    marked = np.array([[3.0, 0.0], [0.0, 5.0]])
    d = nn_rerank_distances(q, gallery, marked)
    d_q = np.array([1.0, np.sqrt(10.0), 3.0])
    d_m = np.array([3.0, 0.0, 1.0])  # nearest mark of each photo
    np.testing.assert_allclose(d, [0.5 * (d_q + d_m)])
    np.testing.assert_allclose(nn_rerank_distances(q, gallery, np.zeros((0, 2))), [d_q])


def test_mixed_verdict_asks_for_1_3x_on_topic_and_099_retention_off_topic():
    def point(product, rocchio, retention):
        residual = {"product": product, "rocchio": rocchio, "one_nn": 0.1}
        return {"round": 1, "residual": residual, "off_topic": {"retention": retention}}

    good = mixed_verdict([point(0.39, 0.3, 0.995)], 1.3)
    assert "NOT" not in good
    assert "NOT after rounds [1]" in mixed_verdict([point(0.38, 0.3, 1.0)], 1.3)
    assert "retention >= 0.99 NOT" in mixed_verdict([point(0.9, 0.3, 0.98)], 1.3)
    assert "yes" not in good  # no confirmed ranking, no line about it
    said_yes = point(0.3, 0.3, 1.0)
    said_yes["residual"]["product_confirmed"] = 0.4
    verdict = mixed_verdict([said_yes], 1.3)
    assert "NOT after rounds [1]" in verdict  # the automatic product
    assert "earlier drawings?': after every round" in verdict
    said_yes["residual"]["product_confirmed"] = 0.38
    assert "earlier drawings?': NOT after rounds [1]" in mixed_verdict([said_yes], 1.3)


def test_oracle_gate_opens_only_to_the_querys_own_subject():
    from personalization.lab.protocol.mixed import oracle_closeness

    # Two subjects (2 and 1 on-topic queries), 1 off-topic query, 2 rounds taught: the
    # taught queries are subject 0, 1, 0, 1.
    gate = oracle_closeness([2, 1], 1, 4)
    assert gate.tolist() == [
        [1, 0, 1, 0],
        [1, 0, 1, 0],
        [0, 1, 0, 1],
        [0, 0, 0, 0],
    ]


def test_the_simulated_user_says_yes_to_the_offered_drawing_of_their_subject():
    from personalization.lab.protocol.mixed import confirmed_rows

    # Taught queries of subjects 0, 1, 2 (one each); three queries: the first is nearest to
    # its own subject's drawing, the second nearest to another subject's (its own second
    # nearest), the third off topic.
    d_taught = np.array([[0.5, 0.9, 1.0], [0.5, 0.7, 1.0], [0.4, 0.6, 0.8]])
    measured = np.zeros((3, 3))
    subjects = np.arange(3)
    asked = np.array([0, 1, -1])
    one, yes_one = confirmed_rows(measured, d_taught, asked, subjects, subjects, 1)
    assert yes_one.tolist() == [True, False, False]  # only the nearest offered
    assert one.tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 0]]
    three, yes_three = confirmed_rows(measured, d_taught, asked, subjects, subjects, 3)
    assert yes_three.tolist() == [True, True, False]  # its own subject was offered second
    assert three.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 0]]


def test_residual_ap_leaves_the_marked_photos_out():
    target = np.array([True, True, False, False])
    ranked = np.array([[0, 2, 1, 3]])
    removed = np.array([True, False, False, False])
    assert subject_aps(ranked, target, None) == pytest.approx((1 + 2 / 3) / 2)
    assert subject_aps(ranked, target, removed) == pytest.approx(1 / 2)  # [2, 1, 3]


def test_product_scores_are_the_general_distance_where_nothing_taught_is_close():
    d_general = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    d_head = np.array([[3.0, 2.0, 1.0], [3.0, 2.0, 1.0]])
    closeness = np.array([[1.0], [0.0]])  # query 0 is a taught one, query 1 is far from it
    marks = np.array([[2.0, 0.0, 2.0]])  # one mark: photo 1
    out = product_scores(d_general, d_head, closeness, marks, np.array([0]), 0.75)
    np.testing.assert_allclose(out[1], d_general[1])
    expected = 0.25 * d_general[0] + 0.5 * d_head[0] + 0.25 * marks[0]
    np.testing.assert_allclose(out[0], expected)


# --- user simulation on synthetic conv5 maps -----------------------------------------------


def synthetic_gallery() -> Gallery:
    lib = SyntheticLibrary(parents=2, subs=2, per_sub=3, seed=3)
    photo_maps = lib.photo_maps(np.arange(lib.size))
    query_maps = np.concatenate([lib.sketch_maps(p, 4, salt=p) for p in range(2)])
    head = general_head()
    return Gallery(
        photo_ids=np.arange(lib.size),
        parents=np.array([f"p{p}" for p in lib.parent_of], dtype=object),
        subs=np.array([f"s{s}" for s in lib.sub_of], dtype=object),
        photo_maps=photo_maps,
        general_photos=head_vectors(head, photo_maps),
        query_maps=query_maps,
        general_queries=head_vectors(head, query_maps),
        query_parent=np.array(["p0"] * 4 + ["p1"] * 4, dtype=object),
        query_is_test=np.array([False, False, True, True] * 2),
        query_self=np.full(8, -1),
    )


SMALL = PersonalConfig(per_branch=6, finetune=FinetuneConfig(rounds=4), feedback_rounds=2)


def test_table3_user_is_repeatable_and_learns_the_sub_category():
    g = synthetic_gallery()
    task = UserTask("p0", "s1", train=np.array([0, 1]), test=np.array([2, 3]))
    first = table3_user(task, g, SMALL)
    second = table3_user(task, g, SMALL)
    assert first["ap"] == second["ap"]
    assert first["training_set"] == {"0.0": 12, "0.5": 12, "1.0": 12}  # 1:1:1, 6 per sketch
    assert first["sub_photos"] == 3
    # The general head cannot see sub-categories; the fine-tuned one must.
    assert first["ap"]["1.0"] > first["ap"]["0.0"] + 0.2


def mixed_gallery() -> Gallery:
    """Two parents with two sub-categories each and a third parent of one sub-category."""
    lib = SyntheticLibrary(parents=3, subs=2, per_sub=3, seed=3)
    photo_maps = lib.photo_maps(np.arange(lib.size))
    query_maps = np.concatenate([lib.sketch_maps(p, 4, salt=p) for p in range(3)])
    head = general_head()
    subs = np.array([f"s{s}" for s in lib.sub_of], dtype=object)
    subs[lib.parent_of == 2] = "only"
    return Gallery(
        photo_ids=np.arange(lib.size),
        parents=np.array([f"p{p}" for p in lib.parent_of], dtype=object),
        subs=subs,
        photo_maps=photo_maps,
        general_photos=head_vectors(head, photo_maps),
        query_maps=query_maps,
        general_queries=head_vectors(head, query_maps),
        query_parent=np.array(["p0"] * 4 + ["p1"] * 4 + ["p2"] * 4, dtype=object),
        query_is_test=np.array([False, False, True, True] * 3),
        query_self=np.full(12, -1),
    )


def test_mixed_user_rounds_score_on_topic_residual_and_off_topic():
    g = mixed_gallery()
    user = MixedUser(
        subjects=[
            Subject("p0", "s1", np.array([0, 1]), np.array([2, 3])),
            Subject("p1", "s0", np.array([4, 5]), np.array([6, 7])),
        ],
        off_topic=np.array([10, 11]),
        seed=5,
    )
    rule = ClosenessRule(bands={"sketch-sketch": Band(near=0.1, far=0.2)})
    # The user looks at 2 results a round, so photos of their subject are left unmarked.
    config = replace(SMALL, shown=2)

    def run():
        return mixed_user_rounds(
            user,
            g,
            config,
            rule,
            "sketch",
            finetune=lambda ts, cfg: protocol_personal._finetune(ts, g, cfg, "cpu"),
            personal=lambda result, queries, d: calibrated(
                result, personal_distance_matrix(result, g, queries, d, candidates=0), config
            ),
            rerank=rerank,
            build_pool=lambda: g.pool(hide_subs=True),
        )

    rows = run()
    assert [r["round"] for r in rows] == [1, 2]
    assert rows[1]["taught_queries"] == 4 and rows[1]["marked"] >= rows[0]["marked"] >= 2
    for row in rows:
        for name in ("product", "general", "rocchio", "one_nn", "head"):
            assert 0.0 <= row[name] <= 1.0 and 0.0 <= row["residual"][name] <= 1.0
        assert set(row["off_topic"]) == {"product", "general", "product_confirmed"}
        # Off topic the user never says yes, so the confirmed product is the product there.
        assert row["off_topic"]["product_confirmed"] == row["off_topic"]["product"]
        assert 0.0 <= row["closeness"]["on_topic_said_yes"] <= 1.0
    again = run()
    for a, b in zip(again, rows, strict=True):
        a.pop("finetune_seconds"), b.pop("finetune_seconds")  # wall time is not repeatable
        assert a == b


# --- data selection ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory) -> Path:
    return make_synthetic_dataset(tmp_path_factory.mktemp("synthetic"), seed=0)


def test_synthetic_dataset_layout(synthetic_dir):
    dataset, layout = load_dataset(synthetic_dir)
    assert layout == "plain"
    assert (len(dataset.photos), len(dataset.sketches)) == (24, 20)
    assert multi_sub_parents(dataset) == {
        "circle": ["circle-dotted", "circle-striped"],
        "square": ["square-dotted", "square-striped"],
    }
    assert all(s.photo_stem for s in dataset.sketches)


def test_selection_uses_the_shared_split_and_keeps_parents_whole(synthetic_dir):
    full, layout = load_dataset(synthetic_dir)
    sel = select(full, layout, seed=0, per_category=2)
    _, test = sketch_split(full, seed=0)
    test_paths = {full.sketches[i].relpath for i in test}
    assert {sel.query_relpath(int(i)) for i in np.flatnonzero(sel.query_is_test)} == {
        s.relpath for s in sel.dataset.sketches if s.relpath in test_paths
    }
    # Parents with sub-categories keep all 6 photos; the others are cut to 2.
    cats = [sel.dataset.photos[i].category for i in sel.personal_photos]
    assert cats.count("circle") == 6 and cats.count("cross") == 2
    general = [sel.dataset.photos[i].category for i in sel.general_photos]
    assert general.count("circle") == 2 and len(general) == 8


# --- end to end ------------------------------------------------------------------------------


def test_protocol_end_to_end_on_the_synthetic_dataset(synthetic_dir, tmp_path):
    out = tmp_path / "results"
    assert (
        main(
            [
                "protocol",
                "--data",
                str(synthetic_dir),
                "--out",
                str(out),
                "--quick",
                "--no-progress",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    report = json.loads((out / "report.json").read_text())
    for png in (
        "pr_general.png",
        "pr_finegrained.png",
        "table3.png",
        "w_sweep.png",
        "feedback_rounds.png",
    ):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["seed"] == 0 and report["dataset"]["layout"] == "plain"
    assert report["config"]["query_expansion"] == DEFAULT_NEIGHBOURS
    assert report["models"]["general"]["source"] == "trained"
    assert set(report["stages_seconds"]) >= {"data", "features", "general_model", "personalization"}
    assert report["machine"]["cpu_count"] >= 1
    methods = report["general"]["methods"]
    assert set(methods) == {"general", "untrained", "hog"}
    for r in methods.values():
        assert r["queries"] == 8 and r["gallery"] == 24
        assert 0.0 <= r["map"] <= 1.0 and 0.0 <= r["p_at_10"] <= 1.0
        assert r["map"] > r["chance"]  # every method does better than a random order
    personal = report["personalization"]
    assert len(personal["users"]) == 4
    assert set(personal["w_sweep"]) == {"0.0", "0.25", "0.5", "0.75", "1.0"}
    assert personal["table3"]["general"]["map"] == personal["w_sweep"]["0.0"]["map"]
    assert personal["table3"]["personal"]["map"] == personal["w_sweep"]["1.0"]["map"]
    assert len(personal["rounds"]["curve"]) == 2 and personal["rounds"]["verdict"]
    assert [p["round"] for p in report["rounds"]] == [1, 2]
    for point in report["rounds"]:
        assert {"round", "product", "general", "rocchio", "one_nn"} <= set(point)
        assert set(point["residual"]) >= {"product", "general", "rocchio", "one_nn", "head"}
        assert set(point["off_topic"]) >= {"product", "general", "retention"}
        assert point["off_topic"]["retention_confirmed"] == point["off_topic"]["retention"]
        for value in (*point["residual"].values(), *point["off_topic"].values()):
            assert isinstance(value, float)
    assert personal["closeness_rule"]["source"] == "measured on this run's training queries"
    # Outlines cannot show the interior pattern: only feedback can tell sub-categories apart.
    assert personal["table3"]["personal"]["map"] > personal["table3"]["general"]["map"]


def make_library(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    rows = []
    rng = np.random.default_rng(0)
    for cat, draw in (("disc", "circle"), ("box", "square")):
        for i in range(4):
            image = np.full((160, 160, 3), 255, np.uint8)
            c = 80 + int(rng.integers(-6, 7))
            if draw == "circle":
                cv2.circle(image, (c, 80), 50, (30, 60, 90), -1)
            else:
                cv2.rectangle(image, (c - 50, 30), (c + 50, 130), (90, 60, 30), -1)
            name = f"{cat}-{i}.jpg"
            cv2.imwrite(str(root / "images" / name), image)
            rows.append({"file": name, "caption": name, "category": cat, "source": "test"})
    with open(root / "manifest.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["file", "caption", "category", "source"])
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_protocol_runs_on_a_photo_library_without_sketches(tmp_path):
    library = make_library(tmp_path / "library")
    out = tmp_path / "results"
    assert (
        main(
            [
                "protocol",
                "--data",
                str(library),
                "--out",
                str(out),
                "--quick",
                "--no-progress",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    report = json.loads((out / "report.json").read_text())
    assert report["dataset"]["layout"] == "library"
    assert report["dataset"]["query_kind"] == "photo-edge-map"
    general = report["general"]["methods"]["general"]
    # 30% of 4 photos per category query the 7 *other* photos: the query is not its own hit.
    assert general["queries"] == 2 and general["gallery"] == 7
    assert "skipped" in report["personalization"]


def test_manage_py_evaluate_delegates_to_the_protocol(monkeypatch, tmp_path, settings):
    seen = {}

    def fake_run(config):
        seen["config"] = config
        return {
            "dataset": {"path": "x", "layout": "plain"},
            "general": {},
            "personalization": {"skipped": "test"},
            "wall_seconds": 0.0,
        }

    monkeypatch.setattr(runner, "run_protocol", fake_run)
    call_command(
        "evaluate",
        "--data",
        str(tmp_path),
        "--out",
        str(tmp_path / "o"),
        "--seed",
        "3",
        "--per-branch",
        "7",
        "--train-general",
    )
    config = seen["config"]
    assert (config.seed, config.personal.per_branch, config.train_general) == (3, 7, True)
    assert config.personal.finetune.rounds == 20  # the paper's default without --quick
    assert config.model_dir == Path(settings.PSBIR_MODEL_DIR)


def test_general_queries_are_asked_as_search_asks_them(tmp_path):
    rng = np.random.default_rng(4)
    queries = rng.normal(size=(5, 8)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    gallery = rng.normal(size=(9, 8)).astype(np.float32)
    gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)
    served = runner.ProtocolConfig(data=tmp_path, out=tmp_path)
    assert served.query_expansion == DEFAULT_NEIGHBOURS
    np.testing.assert_allclose(
        runner._asked(queries, gallery, served), expand_against(queries, gallery, 3)
    )
    plain = runner.ProtocolConfig(data=tmp_path, out=tmp_path, query_expansion=0)
    assert runner._asked(queries, gallery, plain) is queries
    parser = argparse.ArgumentParser()
    protocol_job.add_arguments(parser)
    args = parser.parse_args(
        ["--data", str(tmp_path), "--out", str(tmp_path), "--query-expansion", "0"]
    )
    assert protocol_job.config_from_args(args).query_expansion == 0
