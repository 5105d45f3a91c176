"""The job wire models: a stored job rendered as the API's Job, byte for byte as before."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from gateway.core.jsoncodec import dumps
from gateway.core.models import Job as JobRecord
from gateway.schemas.base import render
from gateway.schemas.jobs import JOB_STATUSES, JobList, job_view, render_job, render_job_list

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)

_RECORD = JobRecord(
    id="f8c3de3d-1fea-4d7c-a8b0-29f63c4c3454", function_id=12, function_name="calc",
    version=3, trigger="invoke", status="success", owner="iss|alice", subject="alice",
    result={"sum": 5, "items": [1, 2.5, None, "ü"]}, error=None, timestamp=NOW,
    started_at=NOW + dt.timedelta(milliseconds=2),
    finished_at=NOW + dt.timedelta(milliseconds=9), duration=6.5, cold_start=True,
    attempts=1, cached=False, event={"a": 1}, context={"timeout_ms": 5},
)

# What Job.to_api rendered for _RECORD, before the model replaced it.
_RENDERED = (
    b'{"id":"f8c3de3d-1fea-4d7c-a8b0-29f63c4c3454","function_id":12,"function_name":"calc",'
    b'"version":3,"trigger":"invoke","status":"success",'
    b'"result":{"sum":5,"items":[1,2.5,null,"\xc3\xbc"]},"error":null,'
    b'"timestamp":"2024-05-01T12:00:00.123Z","started_at":"2024-05-01T12:00:00.125Z",'
    b'"finished_at":"2024-05-01T12:00:00.132Z","duration":6,"cold_start":true,"attempts":1,'
    b'"cached":false}'
)


def _job(**changes: Any) -> JobRecord:
    return dataclasses.replace(_RECORD, **changes)


def test_a_finished_job_renders_the_bytes_it_always_did() -> None:
    assert dumps(render_job(_RECORD)) == _RENDERED


def test_rendering_keeps_the_result_as_it_is_and_agrees_with_render() -> None:
    result = {"rows": [{"i": i} for i in range(3)]}
    job = _job(result=result)
    body = render_job(job)
    assert body["result"] is result  # not copied by pydantic
    assert list(body) == list(render(job_view(job)))
    assert body == render(job_view(job))


def test_a_pending_job_has_nulls_where_it_has_not_run() -> None:
    body = render_job(_job(status="pending", result=None, started_at=None, finished_at=None,
                           duration=None, cold_start=False, attempts=0))
    assert body["started_at"] is body["finished_at"] is body["duration"] is None
    assert body["result"] is None and body["error"] is None


def test_a_failed_job_renders_its_error_as_stored() -> None:
    error = {"code": "RUNTIME_ERROR", "message": "boom",
             "details": {"type": "Error", "stack_trace": "at x", "line": 3}}
    body = render_job(_job(status="failed", result=None, error=error))
    assert body["error"] == error
    assert list(body["error"]) == ["code", "message", "details"]


@pytest.mark.parametrize(("ms", "rendered"), [(0.0, 0), (0.4, 0), (6.5, 6), (7.5, 8),
                                               (1234.6, 1235)])
def test_duration_is_rounded_to_whole_milliseconds(ms: float, rendered: int) -> None:
    assert render_job(_job(duration=ms))["duration"] == rendered


def test_a_naive_or_offset_timestamp_renders_in_utc() -> None:
    offset = NOW.astimezone(dt.timezone(dt.timedelta(hours=2)))
    naive = NOW.replace(tzinfo=None)
    assert render_job(_job(timestamp=offset))["timestamp"] == "2024-05-01T12:00:00.123Z"
    assert render_job(_job(timestamp=naive))["timestamp"] == "2024-05-01T12:00:00.123Z"


def test_owner_event_and_context_are_not_shown() -> None:
    assert not {"owner", "subject", "event", "context", "lost_leases"} & set(
        render_job(_RECORD))


def test_a_page_renders_each_job_and_the_cursor() -> None:
    page = JobList(jobs=[job_view(_RECORD), job_view(_job(id="0" * 32))],
                   next_before=_RECORD.id)
    body = render_job_list(page)
    assert list(body) == ["jobs", "next_before"]
    assert body == render(page)
    assert body["jobs"][0]["result"] is _RECORD.result
    last = render_job_list(JobList(jobs=[], next_before=None))
    assert last == {"jobs": [], "next_before": None}


def test_every_status_the_store_uses_is_listed() -> None:
    assert JOB_STATUSES == ("pending", "running", "success", "failed")

