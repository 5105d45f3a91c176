"""The error body rendered from its model: the same bytes as before, for any code and
details, and a code for every error class."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from gateway.api.errors import error_body
from gateway.api.responses import JSONResponse
from gateway.core import errors
from gateway.core.jsoncodec import dumps
from gateway.schemas.errors import ERROR_CODES, Error


def _as_before(code: str, message: str, details: dict[str, Any] | None,
               request_id: str) -> dict[str, Any]:
    """The body as gateway/api/errors.py wrote it by hand."""
    return {"error": {"code": code, "message": message, "details": details or {}},
            "request_id": request_id}


@pytest.mark.parametrize(("code", "details"), [
    ("FUNCTION_NOT_FOUND", None),
    ("INVALID_REQUEST", {"field": "url", "errors": [{"path": "url", "message": "m"}]}),
    ("RATE_LIMITED", {"limit": 100, "route_class": "execute", "retry_after": 12}),
    # Values the encoder handles itself stay as they are (no pydantic JSON conversion).
    ("CONFLICT", {"at": dt.datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=dt.UTC),
                  "ids": (1, 2), "job": uuid.UUID(int=7), "nested": {"a": [None, 1.5]}}),
    # A failed run's code comes from the run: rendered even when the contract lacks it.
    ("SOME_RUNNER_CODE", {"type": "WorkerCrashed"}),
])
def test_the_body_is_the_same_bytes_as_before(
    code: str, details: dict[str, Any] | None
) -> None:
    body = error_body(code, "it failed", details, "rid-1")
    assert dumps(body) == dumps(_as_before(code, "it failed", details, "rid-1"))
    assert JSONResponse(body).body == JSONResponse(
        _as_before(code, "it failed", details, "rid-1")).body


def test_a_rendered_body_validates_against_its_model() -> None:
    body = error_body("INVALID_PARAMS", "bad", {"errors": [{"path": "$", "message": "m"}]}, "r")
    parsed = Error.model_validate(body)
    assert parsed.error.code == "INVALID_PARAMS" and parsed.request_id == "r"


def test_every_error_class_has_a_code_of_the_contract() -> None:
    classes = [getattr(errors, name) for name in errors.__all__]
    codes = {cls.code for cls in classes if isinstance(cls, type)}
    assert codes <= set(ERROR_CODES)
    assert len(ERROR_CODES) == len(set(ERROR_CODES)) == 23


def test_models_holding_secrets_keep_them_out_of_repr() -> None:
    from gateway.schemas.functions import FunctionCreate
    from gateway.schemas.projects import EnvironmentData, SecretsData
    from gateway.schemas.webhooks import WebhookCreate

    shown = [
        repr(WebhookCreate(url="http://x", events=["job.failed"], secret="hunter2")),
        repr(FunctionCreate.model_validate({"name": "f", "runtime": "python", "code": "x",
                                            "environment": {"KEY": "hunter2"},
                                            "secrets": {"S": "hunter2"}})),
        repr(EnvironmentData(data={"KEY": "hunter2"})),
        repr(SecretsData(data={"KEY": "hunter2"})),
    ]
    assert not any("hunter2" in text for text in shown), shown


def test_a_stored_job_error_renders_as_recorded_even_when_odd() -> None:
    import datetime as dt

    from gateway.core.models import Job
    from gateway.schemas.jobs import render_job

    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    job = Job(id="00000000-0000-0000-0000-000000000001", function_id=1, function_name="f",
              version=1, trigger="invoke", status="failed", result=None,
              error={"code": "SOMETHING_OLD", "message": "m"}, timestamp=at, owner="o",
              subject="s", started_at=at, finished_at=at, duration=1.0, cold_start=False,
              attempts=1, cached=False)
    assert render_job(job)["error"] == {"code": "SOMETHING_OLD", "message": "m", "details": {}}
