"""Hypothesis fuzzing of what users send to the search, feedback and settings APIs.

Property: whatever the body, the answer is never a 5xx; a 4xx always carries a non-empty
``detail`` string, and a refused request stores nothing (no query, no result, no session, no
feedback, no changed w). Valid bodies that happen to be generated may succeed (201) — the
property only constrains refusals. The fake engine keeps each example in milliseconds.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personalization.models import Feedback, PersonalizationSettings
from personalization.search_apis import SearchApi
from retrieval.models import SearchResult, SearchSession, SketchQuery
from tests.retrieval.fakes import circle_strokes

pytestmark = pytest.mark.django_db
SEARCH = "/api/search/"
FEEDBACK = "/api/personalization/feedback/"
SETTINGS = "/api/personalization/settings/"

FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=False,
)

# --- strategies ---------------------------------------------------------------------------

nasty_floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -1.0, 1e308, -1e308, 1e-320, 4096.0, 4097.0, 1e7]),
)
nasty_ints = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 10**6, 2**31, 2**63, 2**64, -1]),
)
scalars = st.one_of(st.none(), st.booleans(), nasty_ints, nasty_floats, st.text(max_size=12))
any_json = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
points = st.one_of(
    st.lists(st.lists(nasty_floats, min_size=2, max_size=2), min_size=1, max_size=6),
    st.lists(st.lists(st.floats(0, 512), min_size=2, max_size=2), min_size=1, max_size=6),
    st.lists(any_json, max_size=3),
    any_json,
)
stroke = st.one_of(
    st.fixed_dictionaries(
        {"points": points},
        optional={"width": st.one_of(nasty_floats, scalars), "erase": scalars},
    ),
    any_json,
)
stroke_payload = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "width": st.one_of(nasty_floats, nasty_ints, scalars),
            "height": st.one_of(nasty_floats, nasty_ints, scalars),
            "strokes": st.one_of(st.lists(stroke, max_size=4), any_json),
        },
    ),
    any_json,
)
search_body = st.fixed_dictionaries(
    {"strokes": stroke_payload},
    optional={
        "top_k": st.one_of(nasty_ints, nasty_floats, scalars),
        "personal_weight": st.one_of(nasty_floats, nasty_ints, scalars),
        "libraries": st.one_of(st.lists(nasty_ints, max_size=3), any_json),
        "session": st.one_of(nasty_ints, scalars),
    },
)


def _counts() -> tuple[int, ...]:
    return (
        SketchQuery.objects.count(),
        SearchResult.objects.count(),
        SearchSession.objects.count(),
        Feedback.objects.count(),
        PersonalizationSettings.objects.count(),
    )


def _check(response: Any, before: tuple[int, ...]) -> None:
    assert response.status_code < 500, (response.status_code, response.content[:300])
    if response.status_code >= 400:
        detail = response.json().get("detail")
        assert isinstance(detail, str) and detail.strip(), response.content[:300]
        assert _counts() == before, "a refused request stored something"


def _strict_json(value: Any) -> str:
    # NaN/Infinity are not JSON: the API must say so (400), not crash.
    return json.dumps(value, allow_nan=True)


@pytest.fixture
def unthrottled(monkeypatch: pytest.MonkeyPatch) -> None:
    # Hundreds of requests a minute are the point here; throttling has its own tests.
    monkeypatch.setattr(SearchApi, "throttle_classes", [])


# --- search -------------------------------------------------------------------------------


@FUZZ
@given(body=search_body)
def test_search_json_bodies_never_500_and_store_nothing_when_refused(
    api_client_a, indexed_library, fake_engine, unthrottled, body
):
    before = _counts()
    response = api_client_a.post(SEARCH, data=_strict_json(body), content_type="application/json")
    _check(response, before)


@FUZZ
@given(body=search_body)
def test_search_multipart_bodies_never_500_and_store_nothing_when_refused(
    api_client_a, indexed_library, fake_engine, unthrottled, body
):
    # Multipart carries strokes as a JSON string that Python's json.loads reads NaN from.
    form = {"strokes": _strict_json(body["strokes"])}
    for key in ("top_k", "personal_weight", "session"):
        if key in body and body[key] is not None:
            form[key] = str(body[key])
    before = _counts()
    response = api_client_a.post(SEARCH, data=form, format="multipart")
    _check(response, before)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_search_raw_bytes_never_500(api_client_a, indexed_library, fake_engine, unthrottled, raw):
    before = _counts()
    response = api_client_a.post(SEARCH, data=raw, content_type="application/json")
    _check(response, before)
    assert response.status_code != 201 or json.loads(raw)  # only a real body can succeed


@pytest.mark.parametrize(
    "body",
    [
        {"strokes": {"width": 512, "height": 512, "strokes": []}},
        {"strokes": {}},
        {"strokes": None},
        {},
        {"top_k": 0},
        {"top_k": 10**6},
        {"top_k": -3},
        {"top_k": 2.5},
        {"personal_weight": -0.01},
        {"personal_weight": 1.01},
        {"personal_weight": 1e308},
        {"personal_weight": True},
        {"libraries": [2**63]},
        {"libraries": [10**30]},
        {"session": 2**63},
        {"session": 10**30},
    ],
)
def test_named_bad_search_bodies_are_clear_400s(
    api_client_a, indexed_library, fake_engine, unthrottled, body
):
    if "strokes" not in body and body:
        body = {"strokes": circle_strokes(), **body}
    before = _counts()
    response = api_client_a.post(SEARCH, data=body, format="json")
    assert response.status_code in (400, 404), response.content[:300]
    _check(response, before)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_coordinates_are_refused(
    api_client_a, indexed_library, fake_engine, unthrottled, value
):
    # Written by hand: json.dumps would not produce these tokens from a valid payload.
    point = f"[[{value}, 10], [20, 20]]"
    strokes = f'{{"width": 512, "height": 512, "strokes": [{{"points": {point}}}]}}'
    for kwargs in (
        {"data": '{"strokes": ' + strokes + "}", "content_type": "application/json"},
        {"data": {"strokes": strokes}, "format": "multipart"},
    ):
        before = _counts()
        response = api_client_a.post(SEARCH, **kwargs)
        assert response.status_code == 400, response.content[:300]
        _check(response, before)


def test_huge_strokes_payloads_are_refused_cleanly(
    api_client_a, indexed_library, fake_engine, unthrottled
):
    many_points = {
        "width": 512,
        "height": 512,
        "strokes": [{"points": [[i % 512, i % 500] for i in range(60_000)], "width": 4}],
    }
    many_strokes = {
        "width": 512,
        "height": 512,
        "strokes": [{"points": [[1, 1], [2, 2]], "width": 4}] * 2_500,
    }
    for strokes in (many_points, many_strokes):
        before = _counts()
        response = api_client_a.post(SEARCH, {"strokes": strokes}, format="json")
        assert response.status_code == 400, response.content[:300]
        assert "too many" in response.json()["detail"]
        _check(response, before)


def test_a_body_over_the_request_limit_is_a_4xx(
    api_client_a, indexed_library, fake_engine, unthrottled, settings
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    padding = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    body = json.dumps({"strokes": circle_strokes(), "pad": padding})
    before = _counts()
    response = api_client_a.post(SEARCH, data=body, content_type="application/json")
    assert response.status_code == 413, response.content[:300]
    assert "larger than" in response.json()["detail"]
    _check(response, before)


# --- feedback and settings ------------------------------------------------------------------


@pytest.fixture
def own_query(api_client_a, indexed_library, fake_engine, unthrottled) -> dict[str, Any]:
    response = api_client_a.post(SEARCH, {"strokes": circle_strokes(), "top_k": 3}, format="json")
    assert response.status_code == 201, response.content[:300]
    return response.json()


feedback_body = st.fixed_dictionaries(
    {},
    optional={
        "query_id": st.one_of(nasty_ints, scalars, st.just("OWN")),
        "result_ids": st.one_of(
            st.lists(st.one_of(nasty_ints, st.just("OWN")), max_size=4),
            st.lists(st.integers(), min_size=201, max_size=205),
            any_json,
        ),
        "none_of_these": scalars,
    },
)


@FUZZ
@given(body=feedback_body)
def test_feedback_bodies_never_500_and_store_nothing_when_refused(api_client_a, own_query, body):
    own_results = [r["id"] for r in own_query["results"]]
    body = dict(body)
    if body.get("query_id") == "OWN":
        body["query_id"] = own_query["id"]
    if isinstance(body.get("result_ids"), list):
        body["result_ids"] = [own_results[0] if r == "OWN" else r for r in body["result_ids"]]
    before = _counts()
    response = api_client_a.post(FEEDBACK, data=_strict_json(body), content_type="application/json")
    _check(response, before)


@pytest.mark.parametrize(
    "body",
    [
        {"query_id": 2**63, "result_ids": [1]},
        {"query_id": "OWN", "result_ids": [2**63]},
        {"query_id": "OWN", "result_ids": [10**30]},
        {"query_id": "OWN", "result_ids": [], "none_of_these": False},
        {"query_id": "OWN", "result_ids": ["OWN"], "none_of_these": True},
        {"query_id": "OWN", "result_ids": list(range(1, 202))},
    ],
)
def test_named_bad_feedback_bodies_are_clear_4xx(api_client_a, own_query, body):
    own_result = own_query["results"][0]["id"]
    body = {
        **body,
        "query_id": own_query["id"] if body["query_id"] == "OWN" else body["query_id"],
        "result_ids": [own_result if r == "OWN" else r for r in body["result_ids"]],
    }
    before = _counts()
    response = api_client_a.post(FEEDBACK, body, format="json")
    assert response.status_code in (400, 404), response.content[:300]
    _check(response, before)


@FUZZ
@given(weight=st.one_of(nasty_floats, nasty_ints, scalars, any_json))
def test_settings_weight_never_500_and_unchanged_when_refused(api_client_a, member_a, weight):
    current = api_client_a.get(SETTINGS).json()["personal_weight"]
    before = _counts()
    response = api_client_a.patch(
        SETTINGS, data=_strict_json({"personal_weight": weight}), content_type="application/json"
    )
    _check(response, before)
    after = api_client_a.get(SETTINGS).json()["personal_weight"]
    if response.status_code >= 400:
        assert after == current
    else:
        assert 0.0 <= after <= 1.0 and math.isfinite(after)
