"""rank_for_user: general order without a head; eq. 18-19 mixing with one; which w.

Every search here is asked with the vector of a query the user gave feedback on (closeness
1), and the marks' term is off, so the head's eq. 18 is what is measured;
test_closeness.py covers what happens away from the taught queries.
"""

from __future__ import annotations

import numpy as np
import pytest

from personalization import head_files
from personalization.engine.scoring import personal_distances
from personalization.models import PersonalHead
from personalization.ranking import rank_for_user
from personalization.services import heads, preferences
from retrieval import index_store
from retrieval.engine.heads import new_head
from tests.personalization import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _head_alone(settings):
    settings.PSBIR_PERSONAL_MEMORY = 0


@pytest.fixture
def setup(member_a):
    rng = np.random.default_rng(0)
    made = factories.random_library(member_a.tenant, 6, rng, index=False)
    library, images, maps, ids = made.library, made.images, made.maps, made.ids
    general = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], dtype=np.float32)
    query = (rng.random((512, 8, 8)) * 20).astype(np.float32)
    factories.teach(member_a, library, images)
    return member_a, library, maps.astype(np.float16).astype(np.float32), ids, general, query


def rank(user, query, ids, general, top_k=6, w=None):
    return rank_for_user(
        user=user,
        query=factories.asked(query),
        candidate_ids=ids,
        general_distances=general,
        top_k=top_k,
        personal_weight=w,
    )


def test_without_a_head_the_general_order_is_kept(setup):
    user, _, _, ids, general, query = setup
    result = rank(user, query, ids[::-1], general[::-1], top_k=4, w=0.8)
    assert [r.image_id for r in result.images] == ids[:4].tolist()
    assert all(r.personal_distance is None for r in result.images)
    assert (result.personal_weight, result.personal_head_version) == (0.0, None)


def test_with_a_head_distances_are_mixed_raw_with_w(setup):
    user, _, maps, ids, general, query = setup
    head = new_head("vgg16_hed", 3)
    factories.make_head(user, head=head)
    personal = personal_distances(head, query, maps)
    for w in (1.0, 0.5, 0.2):
        result = rank(user, query, ids, general, w=w)
        mixed = (1 - w) * general + w * personal
        assert [r.image_id for r in result.images] == ids[np.argsort(mixed, kind="stable")].tolist()
        by_id = {r.image_id: r for r in result.images}
        for i, image_id in enumerate(ids.tolist()):
            assert by_id[image_id].personal_distance == pytest.approx(personal[i], rel=1e-4)
            assert by_id[image_id].general_distance == pytest.approx(general[i])
            assert by_id[image_id].distance == pytest.approx(mixed[i], rel=1e-4)
        assert (result.personal_weight, result.personal_head_version) == (w, 1)


def test_w_zero_is_the_general_model(setup):
    user, _, _, ids, general, query = setup
    factories.make_head(user, head=new_head("vgg16_hed", 3))
    result = rank(user, query, ids, general, w=0.0)
    assert [r.image_id for r in result.images] == ids.tolist()
    assert result.personal_head_version is None


def test_stored_w_is_used_unless_the_request_overrides_it(setup, settings):
    user, _, _, ids, general, query = setup
    factories.make_head(user, head=new_head("vgg16_hed", 3))
    settings.PSBIR_DEFAULT_PERSONAL_WEIGHT = 0.3
    assert rank(user, query, ids, general).personal_weight == 0.3
    preferences.personal_weight_set(user=user, personal_weight=0.75)
    assert rank(user, query, ids, general).personal_weight == 0.75
    assert rank(user, query, ids, general, w=0.1).personal_weight == 0.1


@pytest.mark.parametrize("w", [-0.5, 1.5, float("nan")])
def test_invalid_w_is_refused(setup, w):
    user, _, _, ids, general, query = setup
    with pytest.raises(ValueError):
        rank(user, query, ids, general, w=w)


def test_rollback_to_none_and_to_an_earlier_head(setup):
    user, _, _, ids, general, query = setup
    v1 = factories.make_head(user, head=new_head("vgg16_hed", 1), active=False)
    factories.make_head(user, head=new_head("vgg16_hed", 2))
    assert rank(user, query, ids, general, w=1.0).personal_head_version == 2
    heads.head_activate(actor=user, head_id=v1.pk)
    assert rank(user, query, ids, general, w=1.0).personal_head_version == 1
    heads.head_deactivate_all(actor=user, user_id=user.pk)
    assert rank(user, query, ids, general, w=1.0).personal_head_version is None


def test_head_is_loaded_once_per_process(setup, monkeypatch):
    user, _, _, ids, general, query = setup
    row = factories.make_head(user, head=new_head("vgg16_hed", 3))
    rank(user, query, ids, general, w=0.5)
    assert head_files.is_cached(row)
    head_files.absolute_path(row.file_path).unlink()  # a reload would now fail
    assert rank(user, query, ids, general, w=0.5).personal_head_version == 1


def test_candidate_without_cached_features_ranks_by_the_worst_personal_distance(setup):
    user, library, maps, ids, general, query = setup
    factories.make_head(user, head=new_head("vgg16_hed", 3))
    index_store.feature_store(library, library.model_version).delete([ids[0]])
    result = rank(user, query, ids, general, w=1.0)
    by_id = {r.image_id: r for r in result.images}
    others = [by_id[i].personal_distance for i in ids[1:].tolist()]
    assert by_id[int(ids[0])].personal_distance == pytest.approx(max(others))


def test_head_of_another_model_version_is_not_applied(setup):
    user, _, _, ids, general, query = setup
    factories.make_head(user, head=new_head("vgg16_hed", 3), model_version="g1-older")
    result = rank(user, query, ids, general, w=1.0)
    assert result.personal_head_version is None
    assert [r.image_id for r in result.images] == ids.tolist()


def test_only_ready_heads_can_be_activated(setup):
    from django.core.exceptions import ValidationError

    user, *_ = setup
    failed = factories.make_head(user, status=PersonalHead.Status.FAILED, active=False)
    with pytest.raises(ValidationError):
        heads.head_activate(actor=user, head_id=failed.pk)


def test_only_the_nearest_general_candidates_are_rescored(setup, settings):
    user, _, _, ids, general, query = setup
    factories.make_head(user, head=new_head("vgg16_hed", 3))
    settings.PSBIR_PERSONAL_RESCORE_DEPTH = 3
    result = rank(user, query, ids, general, top_k=2, w=1.0)
    assert {r.image_id for r in result.images} <= set(ids[:3].tolist())
    result = rank(user, query, ids, general, top_k=5, w=1.0)  # depth is at least top K
    assert len(result.images) == 5


def test_a_projection_head_rescores_every_candidate_a_map_head_the_nearest(
    setup, settings, monkeypatch
):
    """A projection head re-scores from the pooled features (its fc only), so it sees every
    general candidate; a head that reads trunk maps only the nearest few (their cost)."""
    from personalization import ranking

    user, _, _, ids, general, query = setup
    row = factories.make_head(user, head=new_head("vgg16_hed", 3))
    settings.PSBIR_PERSONAL_RESCORE_DEPTH = 2
    settings.PSBIR_PERSONAL_RESCORE_DEPTH_POOLED = 5
    scored = []
    real = ranking._personal_distances

    def counting(user, head_row, query_features, candidate_ids):
        scored.append(len(candidate_ids))
        return real(user, head_row, query_features, candidate_ids)

    monkeypatch.setattr(ranking, "_personal_distances", counting)
    rank(user, query, ids, general, top_k=2, w=1.0)
    row.details = {"config": {"scope": "projection"}}
    row.save(update_fields=["details"])
    rank(user, query, ids, general, top_k=2, w=1.0)
    assert scored == [2, 5]
