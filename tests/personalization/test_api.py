"""w settings, status, training requests, jobs and heads over the REST API."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from personalization.models import PersonalizationSettings, TrainingJob
from personalization.services import training
from retrieval.engine.heads import new_head
from tests.personalization import factories

pytestmark = pytest.mark.django_db


def url(name: str, **kwargs) -> str:
    return reverse(f"personalization-api:{name}", kwargs=kwargs)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_w_defaults_to_the_site_setting_then_is_stored(api_client_a, member_a, settings):
    settings.PSBIR_DEFAULT_PERSONAL_WEIGHT = 0.4
    assert api_client_a.get(url("settings")).json() == {
        "personal_weight": 0.4,
        "default_weight": 0.4,
        "is_default": True,
    }
    response = api_client_a.patch(url("settings"), {"personal_weight": 0.8}, format="json")
    assert response.status_code == 200 and response.json()["personal_weight"] == 0.8
    assert PersonalizationSettings.objects.get(user=member_a).personal_weight == 0.8


@pytest.mark.parametrize("value", [-0.1, 1.01, "abc", None, "NaN", True, ""])
def test_w_outside_0_1_is_refused(api_client_a, member_a, value):
    response = api_client_a.patch(url("settings"), {"personal_weight": value}, format="json")
    assert response.status_code == 400
    assert "personal_weight" in response.json()["errors"]
    assert not PersonalizationSettings.objects.filter(user=member_a).exists()


def test_w_is_per_user(api_client_a, api_client_b, member_a, member_b):
    api_client_a.patch(url("settings"), {"personal_weight": 0.9}, format="json")
    assert api_client_b.get(url("settings")).json()["is_default"] is True


def test_train_now_queues_one_job_and_reports_it(world, api_client_a, monkeypatch):
    monkeypatch.setattr(training, "_enqueue", lambda *a: None)
    first = api_client_a.post(url("training"))
    assert first.status_code == 202 and first.json()["state"] == "queued"
    second = api_client_a.post(url("training"))
    assert second.status_code == 200 and second.json()["id"] == first.json()["id"]
    status = api_client_a.get(url("status")).json()
    assert status["job"]["id"] == first.json()["id"]
    assert status["new_feedback_sketches"] == 6 and status["active_version"] is None
    jobs = api_client_a.get(url("job-list")).json()
    assert [j["id"] for j in jobs] == [first.json()["id"]]


def test_train_now_without_feedback_is_400(api_client_a):
    assert api_client_a.post(url("training")).status_code == 400
    assert TrainingJob.objects.count() == 0


def test_train_now_is_throttled(world, api_client_a, monkeypatch, settings):
    from django.core.cache import cache

    cache.clear()
    monkeypatch.setattr(training, "_enqueue", lambda *a: None)
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "training": "2/hour",
        },
    }
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    )
    codes = [api_client_a.post(url("training")).status_code for _ in range(3)]
    assert codes == [202, 200, 429]
    cache.clear()


def test_heads_history_and_rollback(member_a, api_client_a):
    v1 = factories.make_head(member_a, head=new_head("vgg16_hed", 1), active=False)
    v2 = factories.make_head(member_a, head=new_head("vgg16_hed", 2))
    listed = api_client_a.get(url("head-list")).json()
    assert [h["version"] for h in listed] == [2, 1]
    assert listed[0]["loss_curve"] == [5.0, 3.0, 2.0] and listed[0]["is_active"]

    assert api_client_a.post(url("head-activate", pk=v1.pk)).status_code == 200
    v1.refresh_from_db(), v2.refresh_from_db()
    assert v1.is_active and not v2.is_active
    response = api_client_a.post(url("user-deactivate", user_id=member_a.pk))
    assert response.json() == {"deactivated": 1}
    v1.refresh_from_db()
    assert not v1.is_active


def test_admin_sees_and_rolls_back_a_members_heads(member_a, admin_a, api_client_admin_a):
    v1 = factories.make_head(member_a, head=new_head("vgg16_hed", 1), active=False)
    factories.make_head(member_a, head=new_head("vgg16_hed", 2))
    listed = api_client_admin_a.get(url("user-heads", user_id=member_a.pk)).json()
    assert [h["version"] for h in listed] == [2, 1]
    assert api_client_admin_a.get(url("head-detail", pk=v1.pk)).status_code == 200
    assert api_client_admin_a.post(url("head-activate", pk=v1.pk)).status_code == 200
    v1.refresh_from_db()
    assert v1.is_active


def test_colleague_gets_404_on_my_heads_and_jobs(member_a, make_user, tenant_a, monkeypatch):
    head = factories.make_head(member_a, head=new_head("vgg16_hed", 1))
    job = TrainingJob.objects.create(tenant=tenant_a, user=member_a, trigger="manual")
    colleague = client_for(make_user(tenant_a))
    for name, kwargs in [
        ("head-detail", {"pk": head.pk}),
        ("job-detail", {"pk": job.pk}),
        ("user-heads", {"user_id": member_a.pk}),
    ]:
        assert colleague.get(url(name, **kwargs)).status_code == 404, name
    assert colleague.post(url("head-activate", pk=head.pk)).status_code == 404
    assert colleague.post(url("user-deactivate", user_id=member_a.pk)).status_code == 404
    assert colleague.get(url("head-list")).json() == []
    assert colleague.get(url("job-list")).json() == []
    head.refresh_from_db()
    assert head.is_active


def test_failed_head_cannot_be_activated(member_a, api_client_a):
    failed = factories.make_head(member_a, status="failed", active=False)
    response = api_client_a.post(url("head-activate", pk=failed.pk))
    assert response.status_code == 400


def test_schema_lists_the_personalization_api(api_client_a):
    response = api_client_a.get(reverse("api-schema"), {"format": "json"})
    paths = response.json()["paths"]
    for path in (
        "/api/personalization/feedback/",
        "/api/personalization/settings/",
        "/api/personalization/training/",
        "/api/personalization/heads/{id}/activate/",
    ):
        assert path in paths
