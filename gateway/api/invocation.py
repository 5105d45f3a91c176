"""Invocations at the HTTP edge: request headers read into an :class:`Invocation`'s
fields, and what the invocation service answered turned into headers and errors."""

from __future__ import annotations

from starlette.requests import Request

from auth.scopes import ADMIN, EXECUTE_ALL, execute_scope_for
from executors.models import RUNTIMES
from gateway.core.cache_directive import CacheDirective
from gateway.core.errors import InvalidRequest, RunFailed
from gateway.core.models import Invoked, InvokeMode, Job
from gateway.services.cache import parse_cache_control

__all__ = [
    "EXECUTE_SCOPES",
    "cache_directive",
    "cache_headers",
    "idempotency_key",
    "invoke_mode",
    "invoked_headers",
    "job_headers",
    "run_failed",
]

#: The scopes that may run a function, each one enough for some: `execute:all`, each
#: runtime's own (`execute:python`), `admin`.
EXECUTE_SCOPES = (EXECUTE_ALL, *(execute_scope_for(r) for r in RUNTIMES), ADMIN)

_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no")


def idempotency_key(request: Request) -> str | None:
    """``Idempotency-Key``: 1 to 255 characters, or None."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= 255:
        raise InvalidRequest("Idempotency-Key must be 1 to 255 characters",
                             details={"header": "Idempotency-Key"})
    return key


def invoke_mode(request: Request) -> InvokeMode:
    """``?async=true|false``, else ``Prefer: respond-async``, else the function's own."""
    raw = request.query_params.get("async")
    if raw is not None:
        if raw.lower() in _TRUE:
            return "async"
        if raw.lower() in _FALSE:
            return "sync"
        raise InvalidRequest("query parameter 'async' must be true or false",
                             details={"parameter": "async"})
    prefer = request.headers.get("prefer", "")
    if "respond-async" in (p.strip().lower() for p in prefer.split(",")):
        return "async"
    return "auto"


def cache_directive(request: Request) -> CacheDirective | None:
    """``X-Cache-Control`` parsed (400 when malformed), or None when absent."""
    return parse_cache_control(request.headers.get("x-cache-control"))


def job_headers(job: Job) -> dict[str, str]:
    """``X-Job-ID``, and for a finished job its duration, cold start and error code."""
    headers = {"X-Job-ID": job.id}
    if job.duration is not None:
        headers["X-Function-Duration"] = f"{job.duration / 1000:.3f}"
        headers["X-Cold-Start"] = "true" if job.cold_start else "false"
    if job.status == "failed" and job.error:
        headers["X-Function-Error"] = str(job.error.get("code", "RUNTIME_ERROR"))
    return headers


def invoked_headers(invoked: Invoked) -> dict[str, str]:
    """The job's headers, with ``Location`` when accepted, ``X-Cache`` (and a hit's
    ``Age``) when the cache was consulted."""
    headers = job_headers(invoked.job)
    if invoked.accepted:
        headers["Location"] = f"/api/v1/jobs/{invoked.job.id}"
    return {**headers, **cache_headers(invoked)}


def cache_headers(invoked: Invoked) -> dict[str, str]:
    """``X-Cache`` when the result cache was consulted, and a hit's ``Age``."""
    headers: dict[str, str] = {}
    if invoked.cache is not None:
        headers["X-Cache"] = invoked.cache
    if invoked.age_s is not None:
        headers["Age"] = str(int(invoked.age_s))
    return headers


def run_failed(job: Job) -> RunFailed:
    """The error of a failed run, for routes that answer with its result: 504 for a
    timeout, else 500, with the job's error code and ``X-Job-ID``."""
    error = job.error or {}
    code = str(error.get("code", "RUNTIME_ERROR"))
    return RunFailed(str(error.get("message", "the run failed")), code=code,
                     status=504 if code == "TIMEOUT" else 500,
                     details=dict(error.get("details") or {}), headers={"X-Job-ID": job.id})
