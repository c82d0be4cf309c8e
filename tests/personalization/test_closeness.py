"""Feedback applies only near the queries it answered (issue 20): the closeness rule, the
shares of the score, and what rank_for_user does near and far (its calibration:
tests/lab/personalization/test_closeness_calibration.py)."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.http import Http404

from personalization import closeness_rules
from personalization.engine import scoring
from personalization.engine.closeness import (
    CALIBRATION_PATH,
    PAIR_KINDS,
    Band,
    ClosenessRule,
    confirmed_closeness,
    load_rules,
    offered_taught,
    pair_kind,
    query_closeness,
    save_rule,
    taught_subjects,
)
from personalization.ranking import NotTaught, rank_for_user
from personalization.services.feedback import feedback_forget
from retrieval.engine.heads import new_head
from tests.personalization import factories

# --- the rule ----------------------------------------------------------------------------------


def test_band_is_one_up_to_near_zero_from_far_and_linear_between():
    band = Band(near=0.4, far=0.8)
    np.testing.assert_allclose(
        band.closeness([0.0, 0.4, 0.5, 0.6, 0.8, 1.5]), [1, 1, 0.75, 0.5, 0, 0]
    )
    with pytest.raises(ValueError):
        Band(near=0.8, far=0.8)
    with pytest.raises(ValueError):
        Band(near=float("nan"), far=1.0)


def test_pair_kinds_are_symmetric_and_checked():
    assert pair_kind("photo", "sketch") == pair_kind("sketch", "photo") == "sketch-photo"
    assert {pair_kind(a, b) for a in ("sketch", "photo") for b in ("sketch", "photo")} == set(
        PAIR_KINDS
    )
    with pytest.raises(ValueError):
        pair_kind("sketch", "video")


def test_rule_reads_the_band_of_each_pair_kind(tmp_path):
    rule = ClosenessRule(
        bands={
            "sketch-sketch": Band(0.1, 0.2),
            "sketch-photo": Band(0.5, 1.0),
            "photo-photo": Band(0.1, 0.2),
        },
        head="g1-x",
    )
    taught = np.array([[0.0, 0.0], [0.0, 0.0]])
    query = np.array([0.75, 0.0])  # 0.75 from both taught queries
    np.testing.assert_allclose(
        query_closeness(rule, query, "sketch", taught, ["sketch", "photo"]), [0.0, 0.5]
    )
    save_rule(rule, tmp_path / "c.json")
    again = load_rules(tmp_path / "c.json")["g1-x"]
    assert again.bands == rule.bands
    with pytest.raises(ValueError):
        ClosenessRule.from_dict({"head": "h", "bands": {"sketch-sketch": {"near": 0, "far": 1}}})


def test_the_shipped_rule_was_measured_on_the_training_split_only():
    rules = load_rules(CALIBRATION_PATH)
    assert rules, "no measured closeness rule is shipped"
    for rule in rules.values():
        assert set(rule.bands) == set(PAIR_KINDS)
        parts = rule.measured["trained_categories"], rule.measured["unseen_categories"]
        for part in parts:
            split = part["on"]["split"]
            assert "train sketches" in split and "held-out categories never read" in split
            for kind in PAIR_KINDS:
                # 99 % of unrelated searches get none, on trained and on unseen categories.
                assert part[kind]["off_topic_with_any_influence"] <= 0.011
        assert "never trained on" in parts[1]["on"]["split"]
        for kind in PAIR_KINDS:
            # The served band leaks no more than either measurement allows.
            assert rule.bands[kind].far == pytest.approx(
                min(p[kind]["far"] for p in parts), abs=1e-4
            )


def test_a_model_without_a_measured_rule_gets_none(settings, tmp_path):
    settings.PSBIR_CLOSENESS_FILE = str(tmp_path / "none.json")
    assert closeness_rules.rule_for("g1-unknown") is None


# --- the shares of a score ------------------------------------------------------------------------


def test_shares_add_up_and_are_general_at_w_zero_or_far_away():
    for w, c in ((0.0, 1.0), (0.75, 0.0)):
        shares = scoring.Shares.of(w, c, head=True, marks=True)
        assert (shares.general, shares.head, shares.marks) == (1.0, 0.0, 0.0)
        general = np.array([1.0, 2.0])
        np.testing.assert_array_equal(
            scoring.personalized_score(general, shares, head=None, marks=None), general
        )
    shares = scoring.Shares.of(0.75, 1.0, head=True, marks=True)
    assert shares.general + shares.head + shares.marks == pytest.approx(1.0)
    assert (shares.general, shares.head, shares.marks) == pytest.approx((0.25, 0.5, 0.25))
    half = scoring.Shares.of(0.75, 0.5, head=False, marks=True)
    assert (half.general, half.marks) == pytest.approx((0.625, 0.375))
    with pytest.raises(ValueError):
        scoring.Shares.of(0.5, 1.5, head=True, marks=True)


def test_taught_queries_that_share_a_marked_photo_are_one_subject():
    # Queries 0 and 2 share photo 2, 2 and 4 share photo 4: one subject; 1 and 3 alone.
    subjects = taught_subjects([(1, 2), (3,), (2, 4), (5,), (4, 6)])
    assert subjects.tolist() == [0, 1, 0, 3, 0]
    assert taught_subjects([]).tolist() == []


def test_a_search_said_to_be_like_another_is_of_its_subject_whatever_it_marked():
    # Query 2 was searched as like query 0 and marked another photo; 1 is on its own.
    assert taught_subjects([(1,), (2,), (3,)], [(2, 0)]).tolist() == [0, 1, 0]
    assert taught_subjects([(1,), (2,), (3,)]).tolist() == [0, 1, 2]
    # Chains join too: 2 like 1, 1 like 0.
    assert taught_subjects([(1,), (2,), (3,)], [(2, 1), (1, 0)]).tolist() == [0, 0, 0]


def test_saying_yes_opens_the_whole_subject_and_leaves_the_others_measured():
    subjects = np.array([0, 1, 0, 3, 0])
    measured = np.array([0.2, 0.0, 0.5, 0.1, 0.0])
    out = confirmed_closeness(measured, subjects, 2)
    assert out.tolist() == [1.0, 0.0, 1.0, 0.1, 1.0]
    assert measured.tolist() == [0.2, 0.0, 0.5, 0.1, 0.0]  # not changed in place


def test_the_offer_is_the_nearest_query_of_each_of_the_nearest_subjects():
    # Taught queries 0, 2 are one subject, 1 another, 3 a third, 4 a fourth.
    subjects = np.array([0, 1, 0, 3, 4])
    distances = np.array([0.9, 0.8, 0.5, 1.2, 0.7])
    partial = np.array([0.0, 0.0, 0.3, 0.0, 0.0])
    assert offered_taught(distances, partial, subjects, 3) == [2, 4, 1]
    assert offered_taught(distances, partial, subjects, 1) == [2]
    assert offered_taught(distances, partial, subjects, 10) == [2, 4, 1, 3]
    # The nearest subject already counts fully: the distance is sure, nothing is offered.
    sure = np.array([0.0, 0.0, 1.0, 0.0, 0.0])
    assert offered_taught(distances, np.where(subjects == 0, 1.0, 0.0), subjects, 3) == []
    # A farther subject that counts fully is skipped (yes would change nothing there).
    farther_sure = np.array([0.0, 0.0, 0.0, 0.0, 1.0])
    assert offered_taught(distances, farther_sure, subjects, 3) == [2, 1, 3]
    assert offered_taught(np.zeros(0), np.zeros(0), np.zeros(0, int), 3) == []
    assert sure.tolist()  # (one of the subject's queries at 1 is not enough to be sure)
    assert offered_taught(distances, sure, subjects, 1) == [2]


# --- rank_for_user near and far -------------------------------------------------------------------


A = np.eye(1, 512, 0, dtype=np.float32)[0]  # the drawing the user gave feedback on
FAR = np.eye(1, 512, 9, dtype=np.float32)[0]  # 1.41 from it: another subject


def between(rule: ClosenessRule, closeness: float) -> np.ndarray:
    """A unit vector whose distance to A gives ``closeness`` under the sketch-sketch band."""
    band = rule.bands["sketch-sketch"]
    d = band.far - closeness * (band.far - band.near)
    # |A - v| = d for v = cos t A + sin t B with 2 - 2 cos t = d^2.
    t = np.arccos(1 - d**2 / 2)
    return (np.cos(t) * A + np.sin(t) * FAR).astype(np.float32)


@pytest.fixture
def taught(member_a):
    made = factories.random_library(member_a.tenant, 6, np.random.default_rng(2))
    library, images, ids, maps = made.library, made.images, made.ids, made.maps
    general = np.linspace(1.0, 1.5, 6)
    query = factories.make_query(member_a, [library], None, images, vector=A)[0]
    # The user marked the photo the general model puts last, on drawing A.
    factories.mark(member_a, query.results.order_by("rank").last())
    return member_a, library, images, ids, general, maps, query


def ranked(user, vector, ids, general, w=0.75, features=None, like=None):
    return rank_for_user(
        user=user,
        query=factories.asked(features, vector=vector),
        candidate_ids=ids,
        general_distances=general,
        top_k=len(ids),
        personal_weight=w,
        like_query_id=like,
    )


@pytest.mark.django_db
def test_far_from_every_taught_query_the_ranking_is_exactly_the_general_one(taught):
    user, _, _, ids, general, maps, _ = taught
    factories.make_head(user, head=new_head("vgg16_hed", 3))
    out = ranked(user, FAR, ids, general, features=maps[0])
    assert [r.image_id for r in out.images] == ids.tolist()
    assert [r.distance for r in out.images] == pytest.approx(general.tolist())
    assert (out.closeness, out.memory_marks, out.personal_head_version) == (0.0, 0, None)
    assert out.personal_weight == 0.0


@pytest.mark.django_db
def test_near_a_taught_query_marks_and_head_apply_and_the_terms_add_up(taught):
    user, _, _, ids, general, maps, query = taught
    factories.make_head(user, head=new_head("vgg16_hed", 3))
    out = ranked(user, A, ids, general, features=maps[0])
    assert out.closeness == 1.0 and out.nearest_taught_id == query.pk
    assert out.personal_head_version == 1 and out.memory_marks == 1
    assert out.images[0].image_id == int(ids[-1])  # the marked photo comes first
    for image in out.images:
        products = [image.terms[k][0] * image.terms[k][1] for k in ("general", "head", "marks")]
        assert sum(products) == pytest.approx(image.distance)
        assert image.terms["mark"] == {"image_id": int(ids[-1]), "query_id": query.pk}


@pytest.mark.django_db
def test_in_between_the_personal_share_is_w_times_closeness(taught, closeness_rule_obj):
    user, _, _, ids, general, _, _ = taught
    out = ranked(user, between(closeness_rule_obj, 0.5), ids, general, w=0.8)
    assert out.closeness == pytest.approx(0.5, abs=1e-3)
    assert out.shares.marks == pytest.approx(0.4, abs=1e-3)  # no head: the marks take it all
    assert out.shares.general == pytest.approx(0.6, abs=1e-3)


@pytest.mark.django_db
def test_w_zero_is_exactly_the_general_ranking_with_marks_and_head(taught):
    user, _, _, ids, general, maps, _ = taught
    factories.make_head(user, head=new_head("vgg16_hed", 3))
    out = ranked(user, A, ids, general, w=0.0, features=maps[0])
    assert [r.image_id for r in out.images] == ids.tolist()
    assert all(r.distance == r.general_distance and r.terms is None for r in out.images)


@pytest.mark.django_db
def test_forgetting_a_search_stops_its_feedback_at_once(taught, admin_a):
    user, library, images, ids, general, _, query = taught
    assert ranked(user, A, ids, general).memory_marks == 1
    with pytest.raises(Http404):  # a colleague cannot forget someone else's feedback
        feedback_forget(user=admin_a, query_id=query.pk)
    assert feedback_forget(user=user, query_id=query.pk) == 1
    out = ranked(user, A, ids, general)
    assert out.closeness == 0.0 and [r.image_id for r in out.images] == ids.tolist()
    with pytest.raises(ValidationError):
        feedback_forget(user=user)


@pytest.mark.django_db
def test_forgetting_a_session_withdraws_the_marks_of_all_its_searches(taught):
    user, library, images, ids, general, _, query = taught
    other, results = factories.make_query(user, [library], None, images, session=query.session)
    factories.mark(user, results[0])
    elsewhere = factories.teach(user, library, images, vector=FAR)
    assert feedback_forget(user=user, session_id=query.session_id) == 2
    assert ranked(user, A, ids, general).closeness == 0.0
    assert ranked(user, FAR, ids, general).nearest_taught_id == elsewhere.pk  # kept


@pytest.fixture
def closeness_rule_obj():
    return next(iter(load_rules(CALIBRATION_PATH).values()))


@pytest.mark.django_db
def test_a_head_is_not_applied_near_feedback_newer_than_it(taught):
    user, library, images, ids, general, maps, query = taught
    mark_id = _first_mark_id(user)
    # Trained before the user's feedback on drawing A: it never learnt that subject.
    old = factories.make_head(user, head=new_head("vgg16_hed", 3), feedback_watermark=mark_id - 1)
    out = ranked(user, A, ids, general, features=maps[0])
    assert out.personal_head_version is None and out.memory_marks == 1  # marks still count
    # Once trained on it (watermark at or past the mark), the head applies there.
    old.is_active = False
    old.save(update_fields=["is_active"])
    factories.make_head(user, head=new_head("vgg16_hed", 4), feedback_watermark=mark_id)
    assert ranked(user, A, ids, general, features=maps[0]).personal_head_version == 2


def _first_mark_id(user) -> int:
    from personalization.models import Feedback

    return Feedback.objects.filter(user=user).order_by("id").values_list("id", flat=True).first()


# --- "drawing the same thing as one of these earlier searches?" ---------------------------------


@pytest.mark.django_db
def test_a_far_search_is_offered_the_nearest_taught_query_and_yes_applies_its_marks(taught):
    user, _, _, ids, general, _, query = taught
    far = ranked(user, FAR, ids, general)
    assert far.closeness == 0.0 and [r.image_id for r in far.images] == ids.tolist()
    assert far.suggested_taught_id == query.pk and far.like_query_id is None
    said_yes = ranked(user, FAR, ids, general, like=query.pk)
    assert said_yes.closeness == 1.0 and said_yes.like_query_id == query.pk
    assert said_yes.suggested_taught_id is None and said_yes.memory_marks == 1
    assert said_yes.images[0].image_id == int(ids[-1])  # the photo marked on that query
    assert said_yes.images[0].terms["mark"]["query_id"] == query.pk
    # At w = 0 the answer changes nothing: exactly the general ranking.
    general_only = ranked(user, FAR, ids, general, w=0.0, like=query.pk)
    assert [r.image_id for r in general_only.images] == ids.tolist()


@pytest.mark.django_db
def test_yes_opens_every_query_of_that_subject_and_no_other(taught):
    user, library, images, ids, general, _, query = taught
    # A second drawing of the subject marked the same photo and the one before it; another
    # subject marked photo 0.
    same, results = factories.make_query(user, [library], None, images, vector=-A)
    factories.mark(user, results[-1])
    factories.mark(user, results[-2])
    other = factories.teach(user, library, images, vector=-FAR)
    out = ranked(user, FAR, ids, general, like=query.pk)
    assert out.closeness == 1.0 and out.memory_marks == 2
    assert {r.terms["mark"]["image_id"] for r in out.images} == {int(i) for i in ids[-2:]}
    assert other.pk not in {r.terms["mark"]["query_id"] for r in out.images}
    # Yes to the other subject opens only its own mark.
    assert ranked(user, FAR, ids, general, like=other.pk).memory_marks == 1


@pytest.mark.django_db
def test_a_far_search_is_offered_the_nearest_query_of_each_subject(taught, settings):
    user, library, images, ids, general, _, query = taught
    # A second drawing of the first subject (shares its marked photo), nearer to the new
    # drawing than the first; and a second subject, farther still.
    halfway = (FAR + A) / np.linalg.norm(FAR + A)  # 0.77 from FAR: past the band, still nearer
    same, results = factories.make_query(user, [library], None, images, vector=halfway)
    factories.mark(user, results[-1])
    other = factories.teach(user, library, images, vector=-FAR)
    out = ranked(user, FAR, ids, general)
    assert out.closeness == 0.0
    assert out.suggested_taught_ids == (same.pk, other.pk)  # one per subject, nearest first
    assert out.suggested_taught_id == same.pk
    settings.PSBIR_PERSONAL_OFFER_SUBJECTS = 1
    assert ranked(user, FAR, ids, general).suggested_taught_ids == (same.pk,)
    # Yes to the second subject uses its marks, not the first's.
    said_yes = ranked(user, FAR, ids, general, like=other.pk)
    assert said_yes.suggested_taught_ids == () and said_yes.memory_marks == 1
    assert {r.terms["mark"]["query_id"] for r in said_yes.images} == {other.pk}


@pytest.mark.django_db
def test_marks_on_a_search_said_to_be_like_an_earlier_one_join_its_subject(taught):
    user, library, images, ids, general, _, query = taught
    # Searched as "like" the taught query, the user marked a different photo there.
    halfway = (FAR + A) / np.linalg.norm(FAR + A)
    later, results = factories.make_query(user, [library], None, images, vector=halfway)
    later.like_query = query
    later.save(update_fields=["like_query"])
    factories.mark(user, results[0])
    assert int(ids[0]) != int(ids[-1])  # not the photo marked on the first query
    out = ranked(user, FAR, ids, general)
    assert out.suggested_taught_ids == (later.pk,)  # one subject, offered once
    said_yes = ranked(user, FAR, ids, general, like=query.pk)
    assert said_yes.memory_marks == 2  # both searches' marks
    assert {r.terms["mark"]["query_id"] for r in said_yes.images} == {query.pk, later.pk}


@pytest.mark.django_db
def test_a_search_already_fully_close_is_offered_nothing(taught):
    user, _, _, ids, general, _, _ = taught
    assert ranked(user, A, ids, general).suggested_taught_id is None


@pytest.mark.django_db
def test_yes_to_a_query_without_live_marks_is_refused(taught):
    user, library, images, ids, general, _, query = taught
    unmarked, _ = factories.make_query(user, [library], None, images, vector=FAR)
    with pytest.raises(NotTaught):
        ranked(user, FAR, ids, general, like=unmarked.pk)
    feedback_forget(user=user, query_id=query.pk)
    with pytest.raises(NotTaught):
        ranked(user, FAR, ids, general, like=query.pk)
