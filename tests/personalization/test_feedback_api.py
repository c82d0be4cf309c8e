"""Feedback: mark the photos meant on one's own query, "none of these", withdraw."""

from __future__ import annotations

import numpy as np
import pytest
from django.urls import reverse

from personalization.models import Feedback
from tests.personalization import factories

pytestmark = pytest.mark.django_db

LIST = "personalization-api:feedback-list"


def _query(user, n_results: int = 3):
    library = factories.make_library(user.tenant)
    images = factories.add_images(
        library, np.zeros((n_results, 512, 8, 8)), [("c", "s")] * n_results
    )
    return factories.make_query(user, [library], np.zeros((512, 8, 8)), images)


def post(client, body):
    return client.post(reverse(LIST), body, format="json")


def test_mark_photos_then_withdraw(api_client_a, member_a):
    query, results = _query(member_a)
    response = post(api_client_a, {"query_id": query.pk, "result_ids": [results[0].pk]})
    assert response.status_code == 201
    [row] = response.json()
    assert (row["kind"], row["result"], row["image_id"]) == (
        "match",
        results[0].pk,
        results[0].image_id,
    )

    # Marking again is a no-op; marking a second photo adds one.
    post(api_client_a, {"query_id": query.pk, "result_ids": [results[0].pk]})
    response = post(api_client_a, {"query_id": query.pk, "result_ids": [results[1].pk]})
    assert sorted(r["result"] for r in response.json()) == [results[0].pk, results[1].pk]
    assert Feedback.objects.filter(user=member_a).count() == 2

    detail = reverse("personalization-api:feedback-detail", kwargs={"pk": row["id"]})
    assert api_client_a.delete(detail).status_code == 204
    live = api_client_a.get(reverse(LIST), {"query_id": query.pk}).json()
    assert [r["result"] for r in live] == [results[1].pk]
    withdrawn = Feedback.objects.get(pk=row["id"])
    assert withdrawn.withdrawn_at is not None  # kept, for the history of what trained a head


def test_none_of_these_and_marks_exclude_each_other(api_client_a, member_a):
    query, results = _query(member_a)
    post(api_client_a, {"query_id": query.pk, "result_ids": [results[0].pk, results[2].pk]})
    response = post(api_client_a, {"query_id": query.pk, "none_of_these": True})
    assert [(r["kind"], r["result"]) for r in response.json()] == [("none", None)]
    response = post(api_client_a, {"query_id": query.pk, "result_ids": [results[1].pk]})
    assert [(r["kind"], r["result"]) for r in response.json()] == [("match", results[1].pk)]


@pytest.mark.parametrize(
    "body",
    [
        {"result_ids": []},
        {"result_ids": [1], "none_of_these": True},
        {"result_ids": ["x"]},
        {},
    ],
)
def test_invalid_bodies_are_400(api_client_a, member_a, body):
    query, _ = _query(member_a)
    response = post(api_client_a, {"query_id": query.pk, **body})
    assert response.status_code == 400
    assert Feedback.objects.count() == 0


def test_result_of_another_query_is_refused(api_client_a, member_a):
    query, _ = _query(member_a)
    _, other_results = _query(member_a)
    response = post(api_client_a, {"query_id": query.pk, "result_ids": [other_results[0].pk]})
    assert response.status_code == 400
    assert Feedback.objects.count() == 0


def test_colleague_and_other_tenant_get_404_on_my_query(
    make_user, tenant_a, member_a, api_client_b, api_client_admin_a
):
    from rest_framework.test import APIClient

    query, results = _query(member_a)
    colleague = APIClient()
    colleague.force_authenticate(make_user(tenant_a))
    body = {"query_id": query.pk, "result_ids": [results[0].pk]}
    for client in (colleague, api_client_b, api_client_admin_a):
        assert post(client, body).status_code == 404
    assert Feedback.objects.count() == 0


def test_colleague_cannot_see_or_withdraw_my_feedback(make_user, tenant_a, member_a):
    from rest_framework.test import APIClient

    query, results = _query(member_a)
    mine = factories.mark(member_a, results[0])
    detail = reverse("personalization-api:feedback-detail", kwargs={"pk": mine.pk})
    for other in (make_user(tenant_a), make_user(tenant_a, role="admin")):
        client = APIClient()
        client.force_authenticate(other)
        assert client.get(detail).status_code == 404
        assert client.delete(detail).status_code == 404
        assert client.get(reverse(LIST)).json() == []
    mine.refresh_from_db()
    assert mine.withdrawn_at is None
