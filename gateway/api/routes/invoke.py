"""``/api/v1/functions/{ref}/invoke`` and ``/invoke-async``."""

from __future__ import annotations

import dataclasses
import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.api.context import Services, services_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import read_json
from gateway.api.routes._lookup import load_function
from gateway.api.routes.webhooks import refused_url
from gateway.api.security import authenticate, require_execute
from gateway.core.errors import InvalidRequest
from gateway.core.models import Invocation, Job
from gateway.services.cache import parse_cache_control
from gateway.services.caching import plan_cache
from gateway.services.outbound import UrlRefused, check_url
from gateway.services.ratelimit import check_function_rate

__all__ = ["routes", "job_headers"]

logger = logging.getLogger("fngate.invoke")

_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no")


def job_headers(job: Job) -> dict[str, str]:
    """``X-Job-ID``, and for a finished job its duration, cold start and error code."""
    headers = {"X-Job-ID": job.id}
    if job.duration is not None:
        headers["X-Function-Duration"] = f"{job.duration / 1000:.3f}"
        headers["X-Cold-Start"] = "true" if job.cold_start else "false"
    if job.status == "failed" and job.error:
        headers["X-Function-Error"] = str(job.error.get("code", "RUNTIME_ERROR"))
    return headers


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= 255:
        raise InvalidRequest("Idempotency-Key must be 1 to 255 characters",
                             details={"header": "Idempotency-Key"})
    return key


def _wants_async(request: Request, default: bool) -> bool:
    raw = request.query_params.get("async")
    if raw is not None:
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise InvalidRequest("query parameter 'async' must be true or false",
                             details={"parameter": "async"})
    prefer = request.headers.get("prefer", "")
    if "respond-async" in (p.strip().lower() for p in prefer.split(",")):
        return True
    return default


async def _invoke(request: Request, *, force_async: bool) -> Response:
    principal = await authenticate(request)
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"])
    require_execute(principal, function.language)
    await check_function_rate(services.limiter, function)
    event = await read_json(request, empty={})
    callback = await _callback_url(request, services)
    invocation = Invocation(
        function=function, event=event, trigger="invoke", owner=principal.key,
        subject=principal.subject, idempotency_key=_idempotency_key(request),
    )
    # Checked before the async branch too: a malformed header is a 400 either way.
    directive = parse_cache_control(request.headers.get("x-cache-control"))
    if force_async or _wants_async(request, function.execution_type == "async"):
        job = await services.dispatcher.enqueue(invocation)
        headers = job_headers(job)
        headers["Location"] = f"/api/v1/jobs/{job.id}"
        return await _answer(services, job, 202, headers, callback)
    if directive is None:  # sync /invoke uses the cache only when asked to
        job, _ = await services.dispatcher.invoke(invocation)
        return await _answer(services, job, 200, job_headers(job), callback)
    services.dispatcher.admit(invocation)  # before the lookup: a cached result is a run too
    plan = plan_cache(function, params=event, owner=principal.key, directive=directive)
    if invocation.idempotency_key is not None:
        # The key's first job (or its 409) must win over a cached result.
        plan = dataclasses.replace(plan, reads=False)
    hit = await plan.lookup(services.cache)
    services.metrics.cache_lookup(function.name, read=plan.reads, hit=hit is not None)
    if hit is not None:
        job = await services.dispatcher.record_cached(invocation, hit.value)
        headers = {**job_headers(job), "X-Cache": "HIT", "Age": str(int(hit.age_s))}
        return await _answer(services, job, 200, headers, callback)
    job, ran = await services.dispatcher.invoke(invocation, admitted=True)
    if ran is not None and job.status == "success":  # not an idempotent replay
        await plan.store(services.cache, function.id, job.result)
    headers = {**job_headers(job), "X-Cache": plan.state}
    return await _answer(services, job, 200, headers, callback)


async def _callback_url(request: Request, services: Services) -> str | None:
    """``X-Callback-URL`` checked (http(s), public unless allowed), or None."""
    raw = request.headers.get("x-callback-url")
    if raw is None:
        return None
    try:
        return await check_url(raw, allow_private=services.settings.allow_private_callbacks)
    except UrlRefused as exc:
        raise refused_url(exc, header="X-Callback-URL") from exc


async def _answer(services: Services, job: Job, status_code: int, headers: dict[str, str],
                  callback: str | None) -> Response:
    """The job's response; with a callback, its delivery is queued first (not sent)."""
    if callback is not None:
        try:
            await services.webhooks.queue_callback(job, callback)
        except Exception:
            # The job is accepted (or done): an error now would make the client invoke
            # again and run it twice. The missing callback is logged instead.
            logger.exception("queueing the callback of job %s failed", job.id)
    return JSONResponse(job.to_api(), status_code=status_code, headers=headers)


async def invoke(request: Request) -> Response:
    return await _invoke(request, force_async=False)


async def invoke_async(request: Request) -> Response:
    return await _invoke(request, force_async=True)


routes = [
    Route("/api/v1/functions/{ref}/invoke", invoke, methods=["POST"]),
    Route("/api/v1/functions/{ref}/invoke-async", invoke_async, methods=["POST"]),
]
