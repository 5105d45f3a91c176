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
    assert len(ERROR_CODES) == len(set(ERROR_CODES)) == 22
