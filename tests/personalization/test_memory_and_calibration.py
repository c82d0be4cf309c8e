"""The product's ranking beyond eq. 18: calibrated distances (w means the same for every
head) and the memory term (a mark changes the next search before any training)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from django.utils import timezone

from personalization.engine import scoring
from personalization.ranking import rank_for_user
from retrieval.engine.heads import new_head
from tests.personalization import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(member_a):
    rng = np.random.default_rng(1)
    made = factories.random_library(member_a.tenant, 8, rng)
    library, images, ids, vectors = made.library, made.images, made.ids, made.vectors
    query = (rng.random((512, 8, 8)) * 20).astype(np.float32)
    general = np.linspace(1.0, 1.7, 8).astype(np.float32)  # the general order: ids as given
    return member_a, library, images, ids, vectors, general, query


@pytest.fixture
def colleague(admin_a):
    """Another user of the same organisation."""
    return admin_a


def ranked(user, query, ids, general, w=0.5):
    return rank_for_user(
        user=user,
        query=factories.asked(query),
        candidate_ids=ids,
        general_distances=general,
        top_k=len(ids),
        personal_weight=w,
    )


def scaled(head: torch.nn.Module, factor: float) -> torch.nn.Module:
    """The same head with every output multiplied by ``factor`` (conv6 is positively
    homogeneous in its last layer): distances of a very different scale, same geometry."""
    other = new_head("vgg16_hed", 0)
    other.load_state_dict(head.state_dict())
    with torch.no_grad():
        other.conv6_3.weight.mul_(factor)
        other.conv6_3.bias.mul_(factor)
    return other.eval()


# --- calibration -----------------------------------------------------------------------------


def test_distance_scale_follows_the_scale_of_a_head():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 16)), rng.normal(size=(7, 16))
    assert scoring.distance_scale(10 * a, 10 * b) == pytest.approx(
        10 * scoring.distance_scale(a, b)
    )
    assert scoring.distance_scale(np.zeros((0, 16)), b) == 1.0  # nothing to measure


def test_same_w_gives_the_same_mix_for_heads_of_very_different_scales(world, settings):
    settings.PSBIR_PERSONAL_MEMORY = 0  # the head's term alone
    user, library, images, ids, _, general, query = world
    factories.teach(user, library, images)
    small = new_head("vgg16_hed", 3).eval()
    large = scaled(small, 50.0)
    results = []
    # Each head's scale as training measures it: distance_scale follows the head's scale.
    for head, factor in ((small, 1.0), (large, 50.0)):
        row = factories.make_head(user, head=head)
        row.details = {"calibration": {"general": 1.3, "personal": 0.7 * factor}}
        row.save(update_fields=["details"])
        results.append(ranked(user, query, ids, general, w=0.5))
        row.is_active = False  # one active head per user: the next one takes over
        row.save(update_fields=["is_active"])
    small_run, large_run = results
    assert [r.image_id for r in small_run.images] == [r.image_id for r in large_run.images]
    for a, b in zip(small_run.images, large_run.images, strict=True):
        assert b.personal_distance == pytest.approx(50 * a.personal_distance, rel=1e-3)
        assert b.distance == pytest.approx(a.distance, rel=1e-3)  # the same mix


def test_raw_mix_is_the_papers_eq_18_when_calibration_is_off(world, settings):
    settings.PSBIR_PERSONAL_CALIBRATED = 0
    settings.PSBIR_PERSONAL_MEMORY = 0  # the head's term alone
    user, library, images, ids, _, general, query = world
    factories.teach(user, library, images)
    row = factories.make_head(user, head=new_head("vgg16_hed", 3))
    row.details = {"calibration": {"general": 1.0, "personal": 1000.0}}
    row.save(update_fields=["details"])
    result = ranked(user, query, ids, general, w=0.5)
    personal = {r.image_id: r.personal_distance for r in result.images}
    for r in result.images:
        assert r.distance == pytest.approx(0.5 * r.general_distance + 0.5 * personal[r.image_id])


def test_calibrated_mix_divides_each_distance_by_its_scale():
    mixed = scoring.mix([1.0, 2.0], [30.0, 10.0], 0.5, scoring.Calibration(2.0, 20.0))
    np.testing.assert_allclose(mixed, [0.5 * 1 + 0.5 * 30 * 2 / 20, 0.5 * 2 + 0.5 * 10 * 2 / 20])
    assert scoring.Calibration.from_dict({"general": 1}) is None
    assert scoring.Calibration.from_dict({"general": 1, "personal": 0}) is None


# --- memory ------------------------------------------------------------------------------------


def test_a_mark_changes_the_next_ranking_without_training(world, colleague):
    user, library, images, ids, vectors, general, query = world
    before = [r.image_id for r in ranked(user, query, ids, general).images]
    assert before == ids.tolist()
    # The user marks the photo the general model put last: nothing is trained.
    _, results = factories.make_query(user, [library], None, images)
    factories.mark(user, results[-1])
    after = ranked(user, query, ids, general)
    order = [r.image_id for r in after.images]
    assert order.index(int(ids[-1])) < before.index(int(ids[-1]))
    assert after.memory_marks == 1 and after.personal_head_version is None
    memory = {r.image_id: r.memory_distance for r in after.images}
    expected = np.linalg.norm(vectors - vectors[-1], axis=1)
    for i, image_id in enumerate(ids.tolist()):
        assert memory[image_id] == pytest.approx(expected[i], rel=1e-5, abs=1e-5)
    # Another user of the same organisation is not affected by these marks.
    other = ranked(colleague, query, ids, general)
    assert [r.image_id for r in other.images] == before and other.memory_marks == 0


def test_marks_given_for_a_far_query_do_not_move_the_ranking(world):
    user, library, images, ids, _, general, query = world
    # Feedback on a drawing far from this search (orthogonal unit vectors: distance 1.41,
    # beyond the rule's far edge): it stays with that drawing.
    far = np.eye(1, 512, 7, dtype=np.float32)[0]
    _, results = factories.make_query(user, [library], None, images, vector=far)
    factories.mark(user, results[-1])
    out = ranked(user, query, ids, general)
    assert [r.image_id for r in out.images] == ids.tolist()
    assert out.memory_marks == 0 and out.closeness == 0.0
    assert all(r.distance == r.general_distance for r in out.images)


def test_withdrawn_marks_and_a_switched_off_memory_leave_the_order(world, settings):
    user, library, images, ids, _, general, query = world
    _, results = factories.make_query(user, [library], None, images)
    mark = factories.mark(user, results[-1])
    settings.PSBIR_PERSONAL_MEMORY = 0
    assert [r.image_id for r in ranked(user, query, ids, general).images] == ids.tolist()
    settings.PSBIR_PERSONAL_MEMORY = 1
    assert [r.image_id for r in ranked(user, query, ids, general).images] != ids.tolist()
    mark.withdrawn_at = timezone.now()
    mark.save(update_fields=["withdrawn_at"])
    assert [r.image_id for r in ranked(user, query, ids, general).images] == ids.tolist()
