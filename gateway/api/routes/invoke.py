"""``/api/v1/functions/{ref}/invoke`` and ``/invoke-async``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from config import Settings
from gateway.api.context import services_of
from gateway.api.invocation import (
    EXECUTE_SCOPES,
    cache_directive,
    idempotency_key,
    invoke_mode,
    invoked_headers,
)
from gateway.api.operations import Reply, operation, routes_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import read_json
from gateway.api.routes._lookup import load_function
from gateway.api.security import authenticate, require_execute
from gateway.core.models import Invocation
from gateway.schemas.jobs import InvokeEvent, Job, render_job
from gateway.services.outbound import UrlRefused, check_url

__all__ = ["routes"]

_JOB_HEADERS = ("X-Job-ID", "X-Function-Duration", "X-Cold-Start", "X-Function-Error")

_ACCEPTED = Reply(
    "Accepted: the job, `pending` (with a repeated `Idempotency-Key`, the first call's job in "
    "its current state). `X-Function-Duration`, `X-Cold-Start` and `X-Function-Error` appear "
    "only when that job has already finished.", Job, headers=(*_JOB_HEADERS, "Location"),
)

_EXECUTE_NOTE = (
    " Needs `execute:all`, `execute:<language>` of the function (`execute:python`, "
    "`execute:nodejs`) or `admin`. Checks the function is runnable (409 `CONFLICT` while it has "
    "no successfully built active version; 400 `INVALID_RUNTIME` when its runtime is not "
    "installed here). A refused `X-Callback-URL` → 400 before anything runs."
)

_CACHE_NOTE = (
    " Result cache: only a sync call that sends `X-Cache-Control` reads or writes it (a call "
    "answered with 202 ignores the header without checking it). A hit answers 200 with a new "
    "job recorded without a run (`cached: true`, `attempts: 0`, `duration: 0`, "
    "`X-Function-Duration: 0.000`) and `X-Cache: HIT`, `Age`; an `Idempotency-Key` is not "
    "recorded on a hit. A function's `rate_limit` (429 `RATE_LIMITED`) is counted once the "
    "request is read and the function found runnable, before the params check and any run: "
    "a malformed request or a function that cannot run does not use it up."
)

_ASYNC: dict[str, Any] = {
    "name": "async", "in": "query", "required": False,
    "schema": {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no"]},
    "description": "Overrides the function's `execution_type` (and `Prefer`); any other "
                   "value → 400.",
}


async def _invoke(request: Request, *, force_async: bool) -> Response:
    principal = await authenticate(request)
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"], principal)
    require_execute(principal, function.language, function.project)
    # Read in this order, so a request with several faults gets the same 400 as ever.
    # The event is any JSON (InvokeEvent): read_json bounds its depth and refuses NULs.
    invocation = Invocation(
        function=function, event=await read_json(request, empty={}), trigger="invoke",
        owner=principal.key, subject=principal.subject,
        callback_url=await _callback_url(request, services.settings),
        idempotency_key=idempotency_key(request),
        cache=cache_directive(request),  # a malformed one is a 400 even when async
        mode="async" if force_async else invoke_mode(request),
    )
    invoked = await services.invoker.invoke(invocation)
    return JSONResponse(render_job(invoked.job), status_code=202 if invoked.accepted else 200,
                        headers=invoked_headers(invoked))


async def _callback_url(request: Request, settings: Settings) -> str | None:
    """``X-Callback-URL`` checked (http(s), public unless allowed), or None."""
    raw = request.headers.get("x-callback-url")
    if raw is None:
        return None
    try:
        return await check_url(raw, allow_private=settings.allow_private_callbacks)
    except UrlRefused as exc:
        raise exc.invalid_request(header="X-Callback-URL") from exc


@operation(
    "POST", "/api/v1/functions/{ref}/invoke", operation_id="invokeFunction", tag="invocation",
    summary="Invoke",
    description="Runs the function with the body as its event. It answers 202 with a pending "
                "job when `?async=true`, `Prefer: respond-async`, or the function's "
                "`execution_type` is `async`; `?async=true|false` overrides `execution_type` "
                "either way. Otherwise it waits: 200 with the finished job, also when the run "
                "failed (`status: failed`, `error` set, header `X-Function-Error`). Error "
                "statuses apply only when no run happened." + _EXECUTE_NOTE + _CACHE_NOTE,
    scopes=EXECUTE_SCOPES, body=InvokeEvent, body_required=False,
    parameters=["ref", _ASYNC, "Prefer", "Idempotency-Key", "X-Callback-URL",
                "X-Cache-Control"],
    errors=[404, 409, 429],
    replies={
        200: Reply("The finished job (with a repeated `Idempotency-Key`, the first call's job "
                   "in its current state; on a cache hit a new job with `cached: true`). "
                   "`X-Cache` only when the request sent `X-Cache-Control`; `Age` only on a "
                   "hit.", Job, headers=(*_JOB_HEADERS, "X-Cache", "Age")),
        202: _ACCEPTED,
    },
)
async def invoke(request: Request) -> Response:
    return await _invoke(request, force_async=False)


@operation(
    "POST", "/api/v1/functions/{ref}/invoke-async", operation_id="invokeFunctionAsync",
    tag="invocation", summary="Invoke asynchronously",
    description="Same as `/invoke?async=true`: always 202 with a pending job; async work "
                "waits for a free slot rather than failing with 429 `CONCURRENCY_LIMIT` (a "
                "function's `rate_limit` still answers 429 `RATE_LIMITED`). "
                "`X-Cache-Control` is ignored." + _EXECUTE_NOTE,
    scopes=EXECUTE_SCOPES, body=InvokeEvent, body_required=False,
    parameters=["ref", "Idempotency-Key", "X-Callback-URL"], errors=[404, 409, 429],
    replies={202: _ACCEPTED},
)
async def invoke_async(request: Request) -> Response:
    return await _invoke(request, force_async=True)


routes = routes_of(invoke, invoke_async)
