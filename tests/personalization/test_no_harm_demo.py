"""No harm, as a user sees it: the demo library, the shipped general model, the canvas path.

A user draws a car and marks the vehicles among its results (then trains a personal model);
their later house, mug and flower drawings must keep what they found before (their top-10
hits within one), at the default w and at w = 0, and the car drawing must not lose vehicles.
At w = 0 every list is exactly the general one, and so is the compare page's "general model"
column. The demo library is imported and indexed as ``seed_demo`` does, with the real engine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from personalization.services import feedback, training
from personalization.services.compare import query_compare
from personalization.services.search import search_run
from retrieval import engine_runtime
from retrieval.models import SearchResult
from retrieval.services import indexing
from retrieval.services.images import library_import_folder
from retrieval.services.libraries import library_create
from tests.engine.test_demo_quality import DRAWINGS, _payload

DEMO = Path(__file__).resolve().parents[2] / "retrieval" / "demo_library"
OTHERS = ("house", "beverage", "flower")  # what the user draws after the car


@pytest.fixture
def demo(member_a, settings):
    settings.PSBIR_DEVICE = "cpu"
    engine_runtime.set_engine(None)  # the real engine, built from settings
    library = library_create(tenant=member_a.tenant, name="Demo")
    outcome = library_import_folder(
        library=library, folder=DEMO / "images", labels_csv=DEMO / "manifest.csv", enqueue=False
    )
    indexing.index_job_run(job_id=outcome.job.pk, tenant_id=library.tenant_id)
    library.refresh_from_db()
    yield library
    engine_runtime.set_engine(None)


def search(user, library, drawing: str, w: float | None, top_k: int = 10):
    query = search_run(
        user=user,
        libraries=[library],
        strokes=_payload(DRAWINGS[drawing]),
        top_k=top_k,
        personal_weight=w,
    ).query
    results = list(SearchResult.objects.filter(query=query).select_related("image"))
    return query, results


def hits(results, category: str) -> int:
    return sum(r.image.category == category for r in results)


@pytest.mark.slow
@pytest.mark.django_db
def test_marks_on_a_car_leave_house_mug_and_flower_searches_alone(
    member_a, demo, monkeypatch, django_capture_on_commit_callbacks
):
    user = member_a
    before = {d: search(user, demo, d, None) for d in (*OTHERS, "vehicle")}
    general = {d: [r.image_id for r in results] for d, (_, results) in before.items()}
    found = {d: hits(results, d) for d, (_, results) in before.items()}
    assert all(q.closeness == 0.0 for q, _ in before.values())  # nothing taught yet

    car, results = search(user, demo, "vehicle", None, top_k=20)
    vehicles = [r.pk for r in results if r.image.category == "vehicle"]
    assert len(vehicles) >= 5
    feedback.feedback_create(user=user, query_id=car.pk, result_ids=vehicles)

    def check(stage: str) -> None:
        for drawing in OTHERS:
            for w in (None, 0.0):
                query, results = search(user, demo, drawing, w)
                assert abs(hits(results, drawing) - found[drawing]) <= 1, (stage, drawing, w)
                # The car search is offered ("drawing the same thing?"), never applied.
                assert query.suggested_taught_id == (car.pk if w is None else None), stage
                if w == 0.0:  # exactly the general model's list
                    assert [r.image_id for r in results] == general[drawing], (stage, drawing)
                    assert all(r.distance == r.general_distance for r in results)
        query, results = search(user, demo, "vehicle", None)
        assert query.closeness > 0.5, stage  # the car drawing is what was taught
        assert query.nearest_taught_id is not None
        assert hits(results, "vehicle") >= found["vehicle"], stage
        _, at_zero = search(user, demo, "vehicle", 0.0)
        assert [r.image_id for r in at_zero] == general["vehicle"], stage
        # "Compare now": its general column is a live search at w = 0.
        comparison = query_compare(user=user, query=query)
        assert [r.image_id for r in comparison.now_general] == general["vehicle"], stage

    check("marks")
    monkeypatch.setattr(training, "_enqueue", lambda job_id, tenant_id: None)
    with django_capture_on_commit_callbacks(execute=True):
        job, _ = training.training_request(user=user, requested_by=user)
    with django_capture_on_commit_callbacks(execute=True):
        job = training.training_run(job_id=job.pk, tenant_id=user.tenant_id)
    assert job.state == "ready", job.message
    check("personal model")

    # The head retrained the projection only: it re-scores from the pooled features kept at
    # indexing (2.5 KiB a photo), never from the 26 KiB trunk maps.
    from retrieval import index_store, selectors

    pooled = index_store.pooled_store(demo, demo.model_version)
    assert len(pooled) == demo.index_size
    monkeypatch.setattr(selectors, "cached_trunk_maps", _no_maps)
    query, results = search(user, demo, "vehicle", None)
    assert query.personal_head_version is not None
    assert all(r.personal_distance is not None for r in results)


def _no_maps(**_: object) -> None:
    raise AssertionError("a projection head re-scored from trunk maps")


@pytest.mark.slow
@pytest.mark.django_db
def test_a_rebuild_serves_the_head_projection_of_the_kept_pooled_features(demo, monkeypatch):
    """Rebuilding the demo library's vectors never runs the head over trunk maps (at a
    million photos that took the whole head a photo): the kept pooled features through its
    projection give the vectors indexing served, up to float16."""
    from tests.searching import served_vectors

    ids, before = served_vectors(demo)
    engine = engine_runtime.get_engine()

    def no_head(*args: object, **kwargs: object) -> None:
        raise AssertionError("the rebuild ran the head over trunk maps")

    monkeypatch.setattr(engine, "head_vectors", no_head)
    assert indexing.index_rebuild(library=demo, engine=engine) == len(ids)
    after_ids, after = served_vectors(demo)
    order = {i: n for n, i in enumerate(after_ids.tolist())}
    np.testing.assert_allclose(after[[order[i] for i in ids.tolist()]], before, atol=2e-3)
