"""The session wire models: what initialize and execute take, and what a session keeps."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from config import Settings
from gateway.core.errors import InvalidRequest
from gateway.schemas.base import render
from gateway.schemas.results import render_with_result
from gateway.schemas.sessions import (
    DEFAULT_TIMEOUT_MS,
    ExecuteRequest,
    ExecuteResponse,
    InitializeRequest,
    SessionContext,
)
from gateway.schemas.validation import parse

_CAP = {f.name: f.default for f in dataclasses.fields(Settings)}["max_timeout_ms"]


def _refused(model: Any, body: Any, **context: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        parse(model, body, context=context or None)
    return info.value


def _kept(body: Any, cap: int = _CAP) -> dict[str, Any]:
    parsed = parse(InitializeRequest, body, context={"settings": Settings(max_timeout_ms=cap)})
    return (parsed.context or SessionContext()).stored(cap)


def test_without_a_context_the_session_keeps_the_default_timeout_only() -> None:
    assert _kept({}) == {"timeout_ms": DEFAULT_TIMEOUT_MS}
    assert _kept({"context": None}) == {"timeout_ms": DEFAULT_TIMEOUT_MS}
    assert _kept({"context": {}}) == {"timeout_ms": DEFAULT_TIMEOUT_MS}


def test_the_default_timeout_is_capped_by_the_configured_maximum() -> None:
    assert _kept({}, cap=20_000) == {"timeout_ms": 20_000}


def test_the_context_is_kept_as_sent_unknown_keys_and_nulls_included() -> None:
    context = {"user_id": "u1", "environment": None, "tenant": {"id": [1, 2]},
               "timeout_ms": 1500, "retain_session": False}
    assert _kept({"context": context}) == context


def test_unknown_top_level_fields_are_ignored() -> None:
    assert _kept({"context": {"user_id": "u"}, "extra": 1}) == {
        "user_id": "u", "timeout_ms": DEFAULT_TIMEOUT_MS}


@pytest.mark.parametrize("timeout_ms", [0, -5, 1.5, True, "soon", None, 2**31, 10**20,
                                        _CAP + 1])
def test_a_timeout_outside_1_to_the_cap_names_the_cap(timeout_ms: Any) -> None:
    error = _refused(InitializeRequest, {"context": {"timeout_ms": timeout_ms}})
    assert error.details["field"] == "context.timeout_ms"
    assert f"between 1 and {_CAP}" in error.message


def test_the_cap_comes_from_the_settings_in_the_context() -> None:
    body = {"context": {"timeout_ms": 20_001}}
    error = _refused(InitializeRequest, body, settings=Settings(max_timeout_ms=20_000))
    assert "between 1 and 20000" in error.message
    assert _kept({"context": {"timeout_ms": 20_000}}, cap=20_000)["timeout_ms"] == 20_000


@pytest.mark.parametrize(("body", "field"), [
    ({"context": []}, "context"),
    ({"context": "x"}, "context"),
    ({"context": {"environment": 1}}, "context.environment"),
    ({"context": {"user_id": ["u"]}}, "context.user_id"),
    ({"context": {"retain_session": "yes"}}, "context.retain_session"),
    ({"context": {"retain_session": None}}, "context.retain_session"),
])
def test_a_bad_context_is_400_naming_the_field(body: Any, field: str) -> None:
    assert _refused(InitializeRequest, body).details["field"] == field


@pytest.mark.parametrize("body", [[], "x", 1, None])
def test_a_body_that_is_not_an_object_is_400_without_a_field(body: Any) -> None:
    for model in (InitializeRequest, ExecuteRequest):
        error = _refused(model, body)
        assert "field" not in error.details
        assert error.message == "the request body must be a JSON object"


def test_execute_params_are_any_json_and_default_to_an_empty_object() -> None:
    assert parse(ExecuteRequest, {}).params == {}
    assert parse(ExecuteRequest, {"params": None}).params is None
    params = {"values": [1, 2], "op": "add"}
    assert parse(ExecuteRequest, {"params": params, "other": 1}).params == params
    first, second = parse(ExecuteRequest, {}), parse(ExecuteRequest, {})
    first.params["x"] = 1
    assert second.params == {}


def test_an_execute_answer_renders_its_result_as_it_is_last() -> None:
    answer = ExecuteResponse(request_id="f8c3de3d-1fea-4d7c-a8b0-29f63c4c3454",
                             language_title="python-calc", execution_time=7, cached=False,
                             result=[1, {"a": None}])
    body = render_with_result(answer)
    assert list(body) == ["request_id", "language_title", "execution_time", "cached", "result"]
    assert body == render(answer) and body["result"] is answer.result
