"""The views that build response models from records without checking them again
(``ResponseModel.trusted``): what each renders validates against its own model, in the
model's field order, and a view that leaves a field out or names one the model lacks fails
at once."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from pydantic import BaseModel

from gateway.api.responses import JSONResponse
from gateway.core.jsoncodec import loads
from gateway.core.models import FunctionRecord, VersionRecord
from gateway.core.models import Job as JobRecord
from gateway.schemas.base import ResponseModel, render
from gateway.schemas.errors import ErrorObject
from gateway.schemas.function_view import Function, FunctionResources, function_view
from gateway.schemas.jobs import Job, job_view, render_job
from gateway.schemas.versions import Version, version_view

_AT = dt.datetime(2024, 5, 1, 12, 0, 0, 5_123, tzinfo=dt.UTC)


def _function(**changes: object) -> FunctionRecord:
    values: dict[str, object] = dict(
        id=7, name="calc", project="default", runtime="python", execution_type="sync",
        description="adds", environment={"TOKEN": "s3cret"}, timeout_ms=1000, memory_mb=256,
        max_concurrency=4, min_warm=0, cache_ttl=0, cache_scope="caller", max_retries=0,
        rate_limit=None, schema={"params": {"type": "object"}},
        examples=[{"name": "one", "input": {"a": 1}}], labels={"team": "x"},
        active_version=2, created_at=_AT, updated_at=_AT, code="def handler(e, c): pass\n")
    values.update(changes)
    return FunctionRecord(**values)  # type: ignore[arg-type]


def _job(**changes: object) -> JobRecord:
    values: dict[str, object] = dict(
        id=str(uuid.uuid4()), function_id=7, function_name="calc", version=2,
        trigger="invoke", status="failed", owner="k", subject=None,
        result={"deep": [1, {"x": None}]},
        error={"code": "RUNTIME_ERROR", "message": "boom", "details": {"type": "ValueError"}},
        timestamp=_AT, started_at=_AT, finished_at=None, duration=12.6, cold_start=True,
        attempts=1, cached=False)
    values.update(changes)
    return JobRecord(**values)  # type: ignore[arg-type]


def _version(**changes: object) -> VersionRecord:
    values: dict[str, object] = dict(
        id=3, function_id=7, version=2, runtime="python", code="x = 1\n", handler="handler",
        dependencies=["requests"], build_status="success", build_log="ok", created_at=_AT,
        is_active=True, resolved_dependencies=["requests"], build_duration_ms=40,
        build_finished_at=_AT, rebuild_dependencies=["requests", "six"],
        rebuild_status="building", rebuild_log=None, rebuild_started_at=_AT)
    values.update(changes)
    return VersionRecord(**values)  # type: ignore[arg-type]


def _checked(model: BaseModel) -> dict[str, object]:
    """What ``model`` renders (both ways: ``JSONResponse`` and ``render``), after checking
    it validates against its own class and keeps the class's field order."""
    body = loads(JSONResponse(model).body)
    assert body == render(model)
    again = type(model).model_validate(body)
    assert loads(JSONResponse(again).body) == body
    keys = [field.alias or name for name, field in type(model).model_fields.items()]
    assert [key for key in keys if key in body] == list(body)
    return body


@pytest.mark.parametrize("reveal", [True, False])
@pytest.mark.parametrize("include_code", [True, False])
def test_a_function_view_is_a_valid_function(reveal: bool, include_code: bool) -> None:
    body = _checked(function_view(_function(), reveal_environment=reveal,
                                  include_code=include_code))
    assert body["environment"] == {"TOKEN": "s3cret" if reveal else "***"}
    assert ("code" in body) is include_code
    assert body["created_at"] == "2024-05-01T12:00:00.005Z"
    assert body["resources"] == {"cpu": "1000m", "memory": "256Mi"}
    assert body["schema"] == {"params": {"type": "object"}}


def test_a_job_view_is_a_valid_job_and_renders_its_result_as_it_is() -> None:
    job = _job()
    body = _checked(job_view(job))
    assert body["error"] == {"code": "RUNTIME_ERROR", "message": "boom",
                             "details": {"type": "ValueError"}}
    assert body["duration"] == 13 and body["finished_at"] is None
    assert render_job(job) == body and list(render_job(job)) == list(body)


def test_a_stored_job_error_of_an_older_version_renders_as_recorded() -> None:
    """A code this version does not know, no details: shown, not a failed read."""
    body = render_job(_job(error={"code": "SOMETHING_OLD", "message": "gone"}))
    assert body["error"] == {"code": "SOMETHING_OLD", "message": "gone", "details": {}}


def test_a_version_view_is_a_valid_version_with_its_rebuild() -> None:
    body = _checked(version_view(_version()))
    assert body["rebuild"] == {"status": "building", "dependencies": ["requests", "six"],
                               "build_log": None, "started_at": "2024-05-01T12:00:00.005Z"}
    assert _checked(version_view(_version(rebuild_status=None)))["rebuild"] is None


def test_a_stored_row_that_no_longer_validates_still_renders() -> None:
    """Examples an older version stored as bare values: the list shows them, with a
    warning from the serializer, rather than answering 500."""
    with pytest.warns(UserWarning):
        body = loads(JSONResponse(function_view(_function(examples=["old"]),
                                                reveal_environment=False)).body)
    assert body["examples"] == ["old"]


def test_trusted_fills_defaults_and_orders_the_fields() -> None:
    error = ErrorObject.trusted(details={}, message="m", code="TIMEOUT")
    assert list(render(error)) == ["code", "message", "details"]
    shown = function_view(_function(), reveal_environment=True, include_code=False)
    values = dict(reversed(shown.__dict__.items()))
    del values["code"]  # its default: left out of the body
    again = Function.trusted(**values)
    assert list(render(again)) == list(render(shown)) and "code" not in render(again)


def test_trusted_refuses_a_missing_or_unknown_field() -> None:
    with pytest.raises(TypeError, match="needs 'memory'"):
        FunctionResources.trusted(cpu="1m")
    with pytest.raises(TypeError, match="has no field 'mem'"):
        FunctionResources.trusted(cpu="1m", memory="1Mi", mem="x")


def test_every_view_model_is_a_response_model() -> None:
    for model in (Function, FunctionResources, Job, Version, ErrorObject):
        assert issubclass(model, ResponseModel)
