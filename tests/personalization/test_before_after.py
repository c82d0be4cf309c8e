"""Before / after ("compare now"): a stored query re-run with today's model beside its results.

The world of the personalization tests (a labelled synthetic library, 6 sketches of parent 0,
each with its first photo of one sub-category marked) is searched through a small engine
whose general head is the synthetic one; once a personal head is trained from the marks,
comparing a query shows the marked photo at a new rank in the personalized column.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from personalization.lab.synthetic import general_head
from personalization.models import PersonalHead
from personalization.services import compare, preferences, training
from retrieval import engine_runtime
from retrieval.engine.model import head_vectors
from retrieval.engine.query_expansion import DEFAULT_NEIGHBOURS, expand_against
from retrieval.models import SketchQuery
from tests.personalization import factories
from tests.personalization.conftest import build_world

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_training")]


class SyntheticEngine:
    """The engine's face for re-running a stored query: its version and its general head."""

    model_version = factories.MODEL_VERSION

    def __init__(self) -> None:
        self.head = general_head()

    @property
    def general_head(self) -> Any:
        return self.head

    def head_vectors(self, features: np.ndarray, head: Any = None) -> np.ndarray:
        return head_vectors(self.head, np.asarray(features, dtype=np.float32))


@pytest.fixture
def engine():
    engine = SyntheticEngine()
    engine_runtime.set_engine(engine)  # type: ignore[arg-type]
    yield engine
    engine_runtime.set_engine(None)


@pytest.fixture
def searched_world(member_a, engine, monkeypatch):
    monkeypatch.setattr(training, "_enqueue", lambda job_id, tenant_id: None)
    world = build_world(member_a, target_sub=2)
    # As indexing does: vectors from the float16 maps the feature store holds.
    maps = world.lib.photo_maps(np.arange(world.lib.size)).astype(np.float16)
    vectors = engine.head_vectors(maps)
    factories.write_general_index(world.library, world.images, vectors)
    for query, results in zip(world.queries, world.results, strict=True):
        query.top_k = 20
        query.save(update_fields=["top_k"])
        # Stored ranks as the search would have stored them from the query's float16 map.
        sketch = np.frombuffer(bytes(query.features), np.float16).reshape(1, 512, 8, 8)
        # Search ranks with the query expanded by its nearest photos (query_expansion).
        asked = expand_against(engine.head_vectors(sketch), vectors, DEFAULT_NEIGHBOURS)[0]
        query.vector = np.asarray(asked, np.float32).tobytes()  # what closeness compares
        query.save(update_fields=["vector"])
        distances = np.linalg.norm(vectors - asked, axis=1)
        position = {im.pk: i for i, im in enumerate(world.images)}
        order = sorted(results, key=lambda r: (distances[position[r.image_id]], r.image_id))
        for result in results:
            result.rank += 1000
            result.save(update_fields=["rank"])
        for rank, result in enumerate(order, start=1):
            result.rank = rank
            result.distance = result.general_distance = float(distances[position[result.image_id]])
            result.save(update_fields=["rank", "distance", "general_distance"])
    return world


def _train(user, run_on_commit) -> None:
    with run_on_commit():
        job, _ = training.training_request(user=user, requested_by=user)
    with run_on_commit():
        training.training_run(job_id=job.pk, tenant_id=user.tenant_id)
    assert PersonalHead.objects.get(user=user).is_active


def _query(world, i: int) -> SketchQuery:
    from retrieval import selectors

    return selectors.query_get(user=world.user, pk=world.queries[i].pk)


def test_before_training_the_general_column_is_what_was_stored(searched_world):
    world = searched_world
    result = compare.query_compare(user=world.user, query=_query(world, 0))
    assert not result.personalized and result.personal_head_version is None
    assert [r.image_id for r in result.now_general] == [r.image_id for r in result.then[:20]]
    assert all(r.personal_distance is None for r in result.now_personal)
    (change,) = result.changes
    assert change.then_rank == change.general_rank
    assert sum(r.marked for r in result.then) == 1
    assert sum(r.marked for r in result.now_general) == 1
    assert SketchQuery.objects.filter(user=world.user).count() == 6  # nothing stored


def test_after_a_personal_head_is_trained_the_marked_photo_changes_rank(
    searched_world, run_on_commit, api_client_a, client_a
):
    world = searched_world
    preferences.personal_weight_set(user=world.user, personal_weight=1.0)
    _train(world.user, run_on_commit)

    changes = []
    for i in range(len(world.queries)):
        result = compare.query_compare(user=world.user, query=_query(world, i))
        assert result.personalized and result.personal_weight == 1.0
        assert result.personal_head_version == 1
        (change,) = result.changes
        assert change.general_rank == change.then_rank  # the general model did not change
        changes.append(change)
    moved = [c for c in changes if c.personal_rank != c.then_rank]
    assert moved, [c.label for c in changes]
    # Personalization learned the marked sub-category: on the whole the marks moved up.
    assert sum(c.moved or 0 for c in changes) > 0, [c.label for c in changes]

    # The API and the page say the same, with the rank change "#a -> #b".
    query_id = world.queries[changes.index(moved[0])].pk
    data = api_client_a.get(f"/api/queries/{query_id}/compare/").json()
    assert data["personalized"] is True and data["personal_head_version"] == 1
    (api_change,) = data["changes"]
    assert api_change["label"] == moved[0].label
    assert api_change["label"] == f"#{moved[0].then_rank} -> " + (
        f"#{moved[0].personal_rank}" if moved[0].personal_rank else "not in the top K"
    )
    marked_then = [r for r in data["then"] if r["marked"]]
    assert [r["image_id"] for r in marked_then] == [api_change["image_id"]]
    page = client_a.get(f"/queries/{query_id}/compare/")
    assert page.status_code == 200
    html = page.content.decode()
    assert moved[0].label.replace(">", "&gt;") in html
    assert html.count("cmp-marked") >= 2  # highlighted in the stored and today's columns


def test_a_colleagues_query_cannot_be_compared(searched_world, make_user, tenant_a):
    from rest_framework.test import APIClient

    colleague = make_user(tenant_a)
    client = APIClient()
    client.force_authenticate(colleague)
    response = client.get(f"/api/queries/{searched_world.queries[0].pk}/compare/")
    assert response.status_code == 404
