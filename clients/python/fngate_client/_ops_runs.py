"""Calls that run functions and read what ran: invoke, jobs, logs, metrics, events, sessions."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fngate_client._calls import NO_BODY, Call, as_model, nothing, segment
from fngate_client.models import (
    Event,
    ExecuteResponse,
    FunctionEvents,
    FunctionLogs,
    FunctionMetrics,
    InitializeResponse,
    Job,
    JobList,
    JobLogs,
    LogLine,
    Session,
)

__all__ = ["TimeArg", "close_session", "execute", "function_events", "function_logs",
           "function_metrics", "get_job", "get_session", "initialize", "invoke_async",
           "invoke_function", "job_logs", "list_jobs"]

Ref = str | int
JobId = str | uuid.UUID
#: A time for ``since``/``until``: a datetime, RFC 3339 text, or a duration before now
#: such as ``"90s"``, ``"10m"``, ``"24h"``, ``"7d"``.
TimeArg = dt.datetime | str | None


def _fn(ref: Ref, tail: str) -> str:
    return f"/api/v1/functions/{segment(ref)}/{tail}"


def _time(value: TimeArg) -> str | None:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _headers(**values: str | None) -> dict[str, str]:
    return {k.replace("_", "-"): v for k, v in values.items() if v is not None}


def invoke_function(function_id: Ref, data: Any = NO_BODY, *, asynchronous: bool = False,
                    idempotency_key: str | None = None, callback_url: str | None = None,
                    cache_control: str | None = None) -> Call[Job]:
    """Run the function with ``data`` as its event (none: ``{}``) and return its Job: the
    finished one for a sync function (``status`` ``failed`` with ``error`` when the run
    failed), a ``pending`` one for an async function or with ``asynchronous=True``."""
    headers = _headers(Idempotency_Key=idempotency_key, X_Callback_URL=callback_url,
                       X_Cache_Control=cache_control)
    return Call("POST", _fn(function_id, "invoke"), as_model(Job),
                params={"async": "true" if asynchronous else None}, json=data,
                headers=headers)


def invoke_async(function_id: Ref, data: Any = NO_BODY, *, idempotency_key: str | None = None,
                 callback_url: str | None = None) -> Call[Job]:
    """Queue a run of the function and return its ``pending`` Job (see ``wait_job``)."""
    headers = _headers(Idempotency_Key=idempotency_key, X_Callback_URL=callback_url)
    return Call("POST", _fn(function_id, "invoke-async"), as_model(Job), json=data,
                headers=headers)


def get_job(job_id: JobId) -> Call[Job]:
    """A job by id."""
    return Call("GET", f"/api/v1/jobs/{segment(str(job_id))}", as_model(Job))


def job_logs(job_id: JobId) -> Call[list[LogLine]]:
    """What a job's run printed."""
    return Call("GET", f"/api/v1/jobs/{segment(str(job_id))}/logs", as_model(JobLogs, "logs"))


def list_jobs(function_id: Ref, *, status: str | None = None, limit: int | None = None,
              before: JobId | None = None) -> Call[JobList]:
    """The function's jobs, newest first; ``next_before`` pages on."""
    return Call("GET", _fn(function_id, "jobs"), as_model(JobList),
                params={"status": status, "limit": limit,
                        "before": str(before) if before else None})


def function_logs(function_id: Ref, *, since: TimeArg = None, until: TimeArg = None,
                  limit: int | None = None, job_id: JobId | None = None) -> Call[list[LogLine]]:
    """The newest ``limit`` matching log lines, oldest first (``follow_logs`` streams)."""
    return Call("GET", _fn(function_id, "logs"), as_model(FunctionLogs, "logs"),
                params={"since": _time(since), "until": _time(until), "limit": limit,
                        "job_id": str(job_id) if job_id else None})


def function_metrics(function_id: Ref, *, since: TimeArg = None) -> Call[FunctionMetrics]:
    """Invocations, errors, durations (p50/p95/p99), cold starts, cost of the function."""
    return Call("GET", _fn(function_id, "metrics"), as_model(FunctionMetrics),
                params={"since": _time(since)})


def function_events(function_id: Ref, *, limit: int | None = None) -> Call[list[Event]]:
    """The function's history: created, deployed, activated, rolled back, …"""
    return Call("GET", _fn(function_id, "events"), as_model(FunctionEvents, "events"),
                params={"limit": limit})


def initialize(language_title: str, context: dict[str, Any] | None = None, *,
               session_id: str | None = None) -> Call[InitializeResponse]:
    """Open a session on ``<language>-<name>`` (a UUID ``session_id`` is kept as its id)."""
    return Call("POST", "/api/v1/initialize", as_model(InitializeResponse),
                json={"context": context or {}},
                headers=_headers(Language_Title=language_title, X_Request_ID=session_id))


def execute(session_id: str | uuid.UUID, params: Any = None, *,
            cache_control: str | None = None) -> Call[ExecuteResponse]:
    """Run the session's function with ``params``; raises the API's error when it fails."""
    return Call("POST", f"/api/v1/execute/{segment(str(session_id))}",
                as_model(ExecuteResponse), json={"params": {} if params is None else params},
                headers=_headers(X_Cache_Control=cache_control))


def get_session(session_id: str | uuid.UUID) -> Call[Session]:
    """A session's state: active, expired or closed, and its executions."""
    return Call("GET", f"/api/v1/sessions/{segment(str(session_id))}", as_model(Session))


def close_session(session_id: str | uuid.UUID) -> Call[None]:
    """Close a session."""
    return Call("DELETE", f"/api/v1/sessions/{segment(str(session_id))}", nothing)
