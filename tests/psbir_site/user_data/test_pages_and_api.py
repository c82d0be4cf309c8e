"""The "Your data" page, its download and its delete confirmation; GET/DELETE /api/me/data/."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np
import pytest
from asgiref.sync import async_to_sync
from django.contrib.admin.models import CHANGE, LogEntry
from django.test import AsyncRequestFactory, Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import audit
from accounts.models import User
from personalization.models import Feedback, PersonalHead
from psbir_site.user_data import views as data_views
from retrieval.models import SearchSession, SketchQuery
from tests.personalization import factories

pytestmark = pytest.mark.django_db

API = "/api/me/data/"


def give_data(user: User, *, title: str) -> SearchSession:
    """One titled session with a query, ranked results, a mark and a head row."""
    library = factories.make_library(user.tenant)
    images = factories.add_images(
        library, np.zeros((3, 512, 8, 8)), [("c", "s")] * 3, store_features=False
    )
    query, results = factories.make_query(user, [library], None, images)
    query.session.title = title
    query.session.save(update_fields=["title"])
    factories.mark(user, results[1])
    factories.make_head(user, active=False)
    return query.session


def body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def zip_of(response: Any) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(body(response)))


def audit_messages(user: User) -> list[str]:
    return list(
        LogEntry.objects.filter(object_id=str(user.pk), action_flag=CHANGE)
        .order_by("id")
        .values_list("change_message", flat=True)
    )


# --- pages -------------------------------------------------------------------------------


def test_the_user_menu_links_to_your_data(client_a: Client) -> None:
    page = client_a.get(reverse("home"), follow=True).content.decode()
    assert reverse("accounts:data") in page


def test_your_data_page_says_what_is_held(client_a: Client, member_a: User) -> None:
    give_data(member_a, title="Chairs on Monday")
    page = client_a.get(reverse("accounts:data")).content.decode()
    assert "1 search session" in page and "1 feedback mark" in page
    assert "1 personalized model" in page and "Chairs on Monday" in page
    assert reverse("accounts:data-export") in page and reverse("accounts:data-delete") in page


def test_download_from_the_page_is_a_zip_and_audited(client_a: Client, member_a: User) -> None:
    session = give_data(member_a, title="Lamps")
    response = client_a.get(reverse("accounts:data-export"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="psbir-data-alpha')
    with zip_of(response) as zf:
        assert f"sessions/{session.pk}/session.json" in zf.namelist()
        assert json.loads(zf.read("manifest.json"))["counts"]["feedback"] == 1
    [message] = audit_messages(member_a)
    assert message.startswith(audit.DATA_EXPORTED) and "1 search session" in message


def test_under_asgi_the_zip_is_sent_as_it_is_written(member_a: User) -> None:
    # Django would read a sync iterator whole before an ASGI server sent a byte of it.
    sessions = [give_data(member_a, title=f"asgi {i}") for i in range(3)]
    request = AsyncRequestFactory().get(reverse("accounts:data-export"))
    request.user = member_a
    response = data_views.export_response(request)
    assert response.is_async

    async def read() -> list[bytes]:
        return [chunk async for chunk in response.streaming_content]

    chunks = async_to_sync(read)()
    assert len(chunks) > 3 and all(chunks)
    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
    assert all(f"sessions/{s.pk}/session.json" in names for s in sessions)


def test_the_confirmation_page_lists_what_goes(client_a: Client, member_a: User) -> None:
    give_data(member_a, title="Bicycles, take two")
    response = client_a.get(reverse("accounts:data-delete"))
    page = response.content.decode()
    assert response.status_code == 200
    for line in ("1 search session", "1 query", "1 feedback mark", "1 personalized model"):
        assert line in page, line
    assert "Bicycles, take two" in page
    assert 'method="post"' in page and "Delete all of it" in page
    assert SearchSession.objects.filter(user=member_a).exists()  # GET deletes nothing
    assert audit_messages(member_a) == []


def test_confirming_deletes_only_the_users_data(
    client_a: Client,
    member_a: User,
    make_user: Any,
    tenant_a: Any,
    member_b: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    give_data(member_a, title="mine")
    colleague = make_user(tenant_a)
    give_data(colleague, title="theirs")
    give_data(member_b, title="elsewhere")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_a.post(reverse("accounts:data-delete"))
    assert response.status_code == 302 and response["Location"] == reverse("accounts:data")
    page = client_a.get(response["Location"]).content.decode()
    assert "Deleted all your data: 1 search session" in page
    assert "PSBIR holds nothing of yours yet" in page
    for model in (SearchSession, SketchQuery, Feedback, PersonalHead):
        assert not model.objects.filter(user=member_a).exists()
        assert model.objects.filter(user=colleague).exists()
        assert model.objects.filter(user=member_b).exists()
    [message] = audit_messages(member_a)
    assert message.startswith(audit.DATA_DELETED)


def test_deleting_nothing_says_so(client_a: Client) -> None:
    page = client_a.get(reverse("accounts:data-delete")).content.decode()
    assert "PSBIR holds nothing of yours yet" in page and "Delete all of it" not in page
    response = client_a.post(reverse("accounts:data-delete"), follow=True)
    assert "There was nothing of yours to delete." in response.content.decode()


def test_pages_need_a_signed_in_member(anon_client: Client, superuser: User) -> None:
    for name in ("accounts:data", "accounts:data-export", "accounts:data-delete"):
        response = anon_client.get(reverse(name))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    staff = Client()
    staff.force_login(superuser)
    assert staff.get(reverse("accounts:data")).status_code == 403
    assert staff.post(reverse("accounts:data-delete")).status_code == 403


# --- API ---------------------------------------------------------------------------------


def test_api_get_is_the_zip_of_the_callers_data(
    api_client_a: APIClient, member_a: User, member_b: User
) -> None:
    mine = give_data(member_a, title="api mine")
    theirs = give_data(member_b, title="api theirs")
    for accept in ("*/*", "application/zip", "application/json"):
        response = api_client_a.get(API, HTTP_ACCEPT=accept)
        assert response.status_code == 200, accept
        assert response["Content-Type"] == "application/zip"
        with zip_of(response) as zf:
            names = zf.namelist()
        assert f"sessions/{mine.pk}/session.json" in names
        assert f"sessions/{theirs.pk}/session.json" not in names
    assert len(audit_messages(member_a)) == 3


def test_api_delete_removes_the_callers_data(
    api_client_a: APIClient, member_a: User, member_b: User
) -> None:
    give_data(member_a, title="to go")
    give_data(member_b, title="to stay")
    response = api_client_a.delete(API)
    assert response.status_code == 200
    data = response.json()
    assert data["deleted"]["sessions"] == 1 and data["deleted"]["feedback"] == 1
    assert data["deleted"]["heads"] == 1
    assert not Feedback.objects.filter(user=member_a).exists()
    assert Feedback.objects.filter(user=member_b).exists()
    assert api_client_a.delete(API).json()["deleted"] == dict.fromkeys(data["deleted"], 0)
    messages = audit_messages(member_a)
    assert len(messages) == 2 and all(m.startswith(audit.DATA_DELETED) for m in messages)


def test_api_refuses_anonymous_and_tenantless_callers(superuser: User) -> None:
    anonymous = APIClient()
    assert anonymous.get(API).status_code in (401, 403)
    assert anonymous.delete(API, HTTP_ACCEPT="application/zip").status_code in (401, 403)
    staff = APIClient()
    staff.force_authenticate(superuser)
    response = staff.get(API, HTTP_ACCEPT="application/zip")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"  # errors stay JSON
    assert staff.delete(API).status_code == 403


def test_api_is_in_the_schema(api_client_a: APIClient) -> None:
    schema = api_client_a.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    path = schema["paths"]["/api/me/data/"]
    assert set(path) >= {"get", "delete"}
    assert "application/zip" in path["get"]["responses"]["200"]["content"]
    assert "application/json" in path["delete"]["responses"]["200"]["content"]
    assert {"401", "403"} <= set(path["get"]["responses"]) & set(path["delete"]["responses"])
