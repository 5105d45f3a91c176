"""Unit tests of the invocation's shapes: an Invocation refuses contradictory fields, and
the HTTP edge reads headers into it and renders an Invoked (gateway/api/invocation.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from starlette.requests import Request

from gateway.api.invocation import idempotency_key, invoke_mode, invoked_headers, run_failed
from gateway.core.errors import InvalidRequest
from gateway.core.models import CronFire, FunctionRecord, Invocation, Invoked, Job

NOW = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


def _function() -> FunctionRecord:
    return FunctionRecord(
        id=1, name="f", project="default", runtime="python", execution_type="sync",
        description="", environment={}, timeout_ms=1000, memory_mb=128, max_concurrency=1,
        min_warm=0, cache_ttl=0, cache_scope="caller", max_retries=0, rate_limit=None,
        schema=None, examples=[], labels={}, active_version=1, created_at=NOW, updated_at=NOW)


def _job(**overrides: Any) -> Job:
    values: dict[str, Any] = {
        "id": "j1", "function_id": 1, "function_name": "f", "version": 1, "trigger": "invoke",
        "status": "success", "owner": "", "subject": None, "result": 1, "error": None,
        "timestamp": NOW, "started_at": NOW, "finished_at": NOW, "duration": 12.0,
        "cold_start": False, "attempts": 1, "cached": False,
    }
    values.update(overrides)
    return Job(**values)


def _request(query: bytes = b"", **headers: str) -> Request:
    return Request({"type": "http", "method": "POST", "path": "/", "query_string": query,
                    "headers": [(k.replace("_", "-").encode(), v.encode())
                                for k, v in headers.items()]})


FIRE = CronFire(trigger_id=1, scheduled_at=NOW)


@pytest.mark.parametrize("fields", [
    {"mode": "sync", "source_key": "t:1"},
    {"mode": "async", "source_key": "t:1"},
    {"mode": "sync", "fire": FIRE},
    {"mode": "held", "fire": FIRE},
    {"mode": "async", "fire": FIRE, "idempotency_key": "k"},
    {"mode": "held", "idempotency_key": "k"},
])
def test_an_invocation_refuses_contradictory_fields(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Invocation(function=_function(), event={}, trigger="queue", **fields)


def test_an_invocation_of_each_kind_is_built() -> None:
    Invocation(function=_function(), event={}, trigger="queue", mode="held", source_key="t:1",
               redelivered=False)
    Invocation(function=_function(), event={}, trigger="cron", mode="async", fire=FIRE)
    Invocation(function=_function(), event={}, trigger="invoke", mode="auto",
               idempotency_key="k")


@pytest.mark.parametrize(("query", "prefer", "mode"), [
    (b"", "", "auto"),
    (b"async=true", "", "async"),
    (b"async=YES", "", "async"),
    (b"async=0", "respond-async", "sync"),  # the query wins over Prefer
    (b"", "wait=5, respond-async", "async"),
])
def test_the_run_mode_comes_from_async_then_prefer(query: bytes, prefer: str,
                                                   mode: str) -> None:
    assert invoke_mode(_request(query, prefer=prefer)) == mode


def test_a_bad_async_value_or_idempotency_key_is_a_400() -> None:
    with pytest.raises(InvalidRequest):
        invoke_mode(_request(b"async=maybe"))
    with pytest.raises(InvalidRequest):
        idempotency_key(_request(idempotency_key="x" * 256))
    assert idempotency_key(_request(idempotency_key="k")) == "k"
    assert idempotency_key(_request()) is None


def test_headers_of_an_accepted_a_cached_and_a_plain_outcome() -> None:
    pending = _job(status="pending", duration=None, result=None)
    accepted = invoked_headers(Invoked(job=pending, accepted=True))
    assert accepted == {"X-Job-ID": "j1", "Location": "/api/v1/jobs/j1"}
    hit = invoked_headers(Invoked(job=_job(cached=True), cache="HIT", age_s=7.9))
    assert hit["X-Cache"] == "HIT" and hit["Age"] == "7" and hit["X-Function-Duration"]
    plain = invoked_headers(Invoked(job=_job()))
    assert "X-Cache" not in plain and "Location" not in plain


def test_a_failed_run_is_a_500_and_a_timeout_a_504() -> None:
    failed = _job(status="failed", error={"code": "RUNTIME_ERROR", "message": "boom",
                                          "details": {"type": "ValueError"}})
    error = run_failed(failed)
    assert (error.status, error.code, error.headers) == (500, "RUNTIME_ERROR", {"X-Job-ID": "j1"})
    assert error.details == {"type": "ValueError"}
    timed_out = run_failed(_job(status="failed", error={"code": "TIMEOUT", "message": "t"}))
    assert (timed_out.status, timed_out.code) == (504, "TIMEOUT")
