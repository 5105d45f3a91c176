"""The pure mappings of the project-functions and Function Service dialects."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from gateway.core.errors import FngateError, InvalidRequest, RunFailed
from gateway.core.models import Job
from gateway.dialects.function_service_invoke import (
    FsInvokeRequest,
    invocation_view,
    invoke_event,
    invoke_result,
)
from gateway.dialects.function_service_models import error_view as fs_error
from gateway.dialects.function_service_models import parse_id, runtime_name
from gateway.dialects.project_functions_deploy import parse_env_vars
from gateway.dialects.project_functions_models import (
    duration_text,
    error_code,
    error_view,
    uptime_text,
)

NOW = dt.datetime(2024, 3, 21, 10, 0, tzinfo=dt.UTC)


def job(result: object, status: str = "success") -> Job:
    return Job(id="0b9a3c1e-0000-4000-8000-000000000001", function_id=7, function_name="f",
               version=1, trigger="http", status=status,  # type: ignore[arg-type]
               owner="", subject=None, result=result, error=None, timestamp=NOW,
               started_at=NOW, finished_at=NOW, duration=12.4, cold_start=True, attempts=1,
               cached=False)


def test_uptime_and_execution_time_read_as_the_document_writes_them() -> None:
    assert uptime_text(2 * 3600 + 30 * 60 + 59) == "2h 30m"
    assert uptime_text(59) == "0m" and uptime_text(3600) == "1h 0m"
    assert duration_text(500) == "0.5s" and duration_text(42) == "0.042s"
    assert duration_text(1250) == "1.25s" and duration_text(None) == "0s"


def test_env_vars_as_a_json_object_or_key_value_lines() -> None:
    assert parse_env_vars('{"API_KEY": "k", "B": "2"}') == {"API_KEY": "k", "B": "2"}
    assert parse_env_vars("# c\nA=1\n\n B = x=y \n") == {"A": "1", "B": "x=y"}
    for bad in ('{"A": 1}', "[1]", "{not json", "JUSTAWORD"):
        with pytest.raises(InvalidRequest) as caught:
            parse_env_vars(bad)
        assert caught.value.details == {"field": "env_vars"}
    assert error_code("INVALID_REQUEST", "env_vars") == "ENV_ERROR"


def test_native_codes_become_the_project_documents_codes() -> None:
    assert error_code("INVALID_REQUEST", "dependencies[0]") == "DEPENDENCY_ERROR"
    assert error_code("INVALID_REQUEST", "environment") == "ENV_ERROR"
    assert error_code("INVALID_REQUEST", "name") == "INVALID_PARAMETERS"
    assert error_code("TIMEOUT", None) == "EXECUTION_ERROR"
    assert error_code("CONFLICT", None) == "CONFLICT"
    failed = RunFailed("boom", code="RUNTIME_ERROR", status=500,
                       details={"type": "ValueError", "message": "bad input"})
    body = error_view(failed)
    assert body.code == "EXECUTION_ERROR" and body.details.reason == "bad input"
    assert body.details.field is None
    assert fs_error(failed).code == "INVOCATION_FAILED"
    assert fs_error(FngateError("x", code="QUOTA_EXCEEDED")).code == "QUOTA_EXCEEDED"


def test_ids_and_runtime_names() -> None:
    assert parse_id("func", "func-123456") == 123456
    for raw in ("123456", "func-", "func-12a", "ver-1", "func-1/2"):
        assert parse_id("func", raw) is None
    assert runtime_name("python") == "python3.9" and runtime_name("go") == "go1.21"
    assert runtime_name("rust") == "rust"


def test_the_http_shaped_request_is_the_http_trigger_event() -> None:
    event = invoke_event(FsInvokeRequest(
        method="post", path="/p", headers={"X-A": ["1", "2"], "Content-Type": ["text/plain"]},
        body=base64.b64encode(b"hi").decode(), query={"q": ["a", "b"]}))
    assert event == {"method": "POST", "path": "/p",
                     "headers": {"x-a": "2", "content-type": "text/plain"},
                     "query": {"q": "b"}, "body": "hi", "isBase64Encoded": False}
    assert invoke_event(FsInvokeRequest(body={"m": 1}))["body"] == {"m": 1}
    with pytest.raises(InvalidRequest):
        invoke_event(FsInvokeRequest(body="***"))


def test_results_become_http_answers() -> None:
    hello = invoke_result(job({"status": 200, "body": "Hello World"}))
    assert hello.status_code == 200 and base64.b64decode(hello.body) == b"Hello World"
    assert hello.duration == 12 and hello.invocation_id.startswith("inv-")
    made = invoke_result(job({"statusCode": 201, "headers": {"X": "y"}, "body": {"a": 1}}))
    assert made.status_code == 201 and made.headers["X"] == ["y"]
    assert base64.b64decode(made.body) == b'{"a":1}'
    # Not an HTTP result: a "status" that is not a number, or no body.
    for result in ({"status": "ok"}, {"status": 200}, [1, 2]):
        plain = invoke_result(job(result))
        assert plain.status_code == 200 and plain.headers == {"Content-Type": [
            "application/json"]}
    with pytest.raises(RunFailed):
        invoke_result(job({"statusCode": 99}))
    shown = invocation_view(job({"statusCode": 99}), "ws")
    assert shown.status == "completed" and shown.result is not None
    assert shown.result.status_code == 200
