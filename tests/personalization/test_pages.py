"""The dashboard, the admins' people pages, rollback forms and the search-page panel."""

from __future__ import annotations

import numpy as np
import pytest
from django.urls import reverse

from personalization.models import TrainingJob
from retrieval.engine.heads import new_head
from tests.personalization import factories

pytestmark = pytest.mark.django_db


def test_dashboard_shows_models_loss_curves_and_training_state(client_a, member_a):
    factories.make_head(member_a, head=new_head("vgg16_hed", 1), active=False)
    factories.make_head(member_a, head=new_head("vgg16_hed", 2))
    TrainingJob.objects.create(
        tenant=member_a.tenant, user=member_a, trigger="auto", state="training", progress=40
    )
    page = client_a.get(reverse("personalization:dashboard")).content.decode()
    assert page.count('<svg class="loss-chart"') == 2
    assert "in use" in page and "Use this one" in page and "Use no personalized model" in page
    assert 'data-state="training"' in page and 'value="40"' in page
    assert "js/personalization.js" in page


def test_rollback_forms(client_a, member_a):
    v1 = factories.make_head(member_a, head=new_head("vgg16_hed", 1), active=False)
    v2 = factories.make_head(member_a, head=new_head("vgg16_hed", 2))
    response = client_a.post(reverse("personalization:head-activate", kwargs={"pk": v1.pk}))
    assert response.status_code == 302 and response["Location"] == reverse(
        "personalization:dashboard"
    )
    v1.refresh_from_db(), v2.refresh_from_db()
    assert v1.is_active and not v2.is_active
    client_a.post(reverse("personalization:user-deactivate", kwargs={"user_id": member_a.pk}))
    v1.refresh_from_db()
    assert not v1.is_active


def test_people_page_is_for_admins(client_a, client_admin_a, member_a):
    factories.make_head(member_a, head=new_head("vgg16_hed", 1))
    assert client_a.get(reverse("personalization:people")).status_code == 403
    page = client_admin_a.get(reverse("personalization:people")).content.decode()
    assert f'data-user-id="{member_a.pk}"' in page and "v1" in page


def test_admin_sees_a_members_history_and_rolls_it_back(client_admin_a, member_a):
    head = factories.make_head(member_a, head=new_head("vgg16_hed", 1))
    url = reverse("personalization:user-history", kwargs={"user_id": member_a.pk})
    page = client_admin_a.get(url).content.decode()
    assert f'data-head-id="{head.pk}"' in page and member_a.username in page
    response = client_admin_a.post(
        reverse("personalization:user-deactivate", kwargs={"user_id": member_a.pk})
    )
    assert response["Location"] == url
    head.refresh_from_db()
    assert not head.is_active


def test_search_page_carries_the_panel(client_a, member_a, settings):
    settings.PSBIR_DEFAULT_PERSONAL_WEIGHT = 0.35
    page = client_a.get(reverse("retrieval:search")).content.decode()
    assert 'id="personalization-panel"' in page
    assert 'id="psbir-personal-weight"' in page and 'value="0.35"' in page
    assert reverse("personalization-api:feedback-list") in page
    assert "the general model" in page  # no head yet


@pytest.mark.parametrize(
    "model", ["feedback", "personalhead", "trainingjob", "personalizationsettings"]
)
def test_django_admin_lists_personalization_models(client, superuser, member_a, model):
    factories.make_head(member_a)
    client.force_login(superuser)
    response = client.get(reverse(f"admin:personalization_{model}_changelist"))
    assert response.status_code == 200


def test_train_now_is_off_with_its_reason_until_the_user_has_a_mark(client_a, member_a):

    page = client_a.get("/personalization/").content.decode()
    assert 'data-testid="train-now"' in page
    button = page.split('data-testid="train-now"', 1)[1].split(">", 1)[0]
    assert "disabled" in button
    assert "Mark the photos you meant on a search first" in page
    library = factories.make_library(member_a.tenant)
    images = factories.add_images(
        library, np.zeros((1, 512, 8, 8)), [("c", "s")], store_features=False
    )
    factories.teach(member_a, library, images)
    page = client_a.get("/personalization/").content.decode()
    button = page.split('data-testid="train-now"', 1)[1].split(">", 1)[0]
    assert "disabled" not in button
