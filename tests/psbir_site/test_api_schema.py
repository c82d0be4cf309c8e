"""The served schema says what the endpoints do (issue 15's API contract list)."""

from __future__ import annotations

import pytest
import yaml

pytestmark = pytest.mark.django_db


@pytest.fixture
def spec(anon_client):
    response = anon_client.get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def _props(spec, component):
    return spec["components"]["schemas"][component]["properties"]


def test_responses_declare_what_they_send(spec):
    assert "format" not in _props(spec, "Me")["email"]  # "" for no address
    assert "format" not in _props(spec, "Member")["email"]
    assert _props(spec, "Feedback")["image_id"]["nullable"] is True  # "None of these"
    assert _props(spec, "Session")["last_sketch_url"]["nullable"] is True
    assert _props(spec, "TrainingJob")["version"]["nullable"] is True
    assert _props(spec, "Image")["edges_url"]["nullable"] is True


def test_limit_and_offset_bounds_are_in_the_schema(spec):
    params = {p["name"]: p["schema"] for p in spec["paths"]["/api/sessions/"]["get"]["parameters"]}
    assert (params["limit"]["minimum"], params["limit"]["maximum"]) == (1, 1000)
    assert params["offset"]["minimum"] == 0


def test_every_operation_declares_the_standard_errors_in_one_shape(spec):
    assert spec["components"]["schemas"]["Error"]["required"] == ["detail"]
    for path, item in spec["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            for code in ("400", "401", "403", "404", "429"):
                response = operation["responses"].get(code)
                assert response, f"{method.upper()} {path} does not declare {code}"
                assert "application/json" in response["content"], (method, path, code)


def test_feedback_query_id_must_be_a_whole_number(api_client_a):
    for bad in ("null", "abc", "0", "-3"):
        response = api_client_a.get("/api/personalization/feedback/", {"query_id": bad})
        assert response.status_code == 400, bad
        assert "query_id" in response.json()["errors"]
    assert api_client_a.get("/api/personalization/feedback/", {"query_id": 7}).status_code == 200


def test_settings_patch_is_partial_and_put_is_not(api_client_a):
    before = api_client_a.get("/api/personalization/settings/").json()
    patched = api_client_a.patch("/api/personalization/settings/", {}, format="json")
    assert patched.status_code == 200 and patched.json() == before
    assert api_client_a.put("/api/personalization/settings/", {}, format="json").status_code == 400
    changed = api_client_a.patch(
        "/api/personalization/settings/", {"personal_weight": 0.25}, format="json"
    )
    assert changed.json()["personal_weight"] == 0.25


def test_texts_must_be_sent_as_text(api_client_a):
    assert api_client_a.post("/api/sessions/", {"title": 0}, format="json").status_code == 400
