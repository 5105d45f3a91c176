"""Sessions: ``/api/v1/initialize``, ``/api/v1/execute/{id}``, ``/api/v1/sessions/{id}``."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response

from gateway.api.context import services_of
from gateway.api.invocation import EXECUTE_SCOPES, cache_directive, cache_headers, run_failed
from gateway.api.operations import Reply, operation, routes_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import read_json
from gateway.api.security import authenticate, require_execute
from gateway.core.errors import InvalidRequest
from gateway.core.jsoncodec import isoformat
from gateway.schemas.errors import Error
from gateway.schemas.results import render_with_result
from gateway.schemas.sessions import (
    ExecuteRequest,
    ExecuteResponse,
    InitializeRequest,
    InitializeResponse,
    Session,
)
from gateway.schemas.validation import parse
from gateway.store.sessions import SessionRecord

__all__ = ["routes", "session_view"]

_ERRORS_NOTE = " Error bodies carry the session id as `request_id` (see `Error`)."


def _session_id(request: Request) -> uuid.UUID:
    """The new session's id: ``X-Request-ID`` when it is a UUID, else a fresh one."""
    raw = request.headers.get("x-request-id")
    if raw:
        try:
            return uuid.UUID(raw)
        except ValueError:
            pass
    return uuid.uuid4()


@operation(
    "POST", "/api/v1/initialize", operation_id="initializeSession", tag="sessions",
    summary="Start a session",
    description="Needs `execute:all`, `execute:<language>` of the function or `admin` (403, "
                "checked once the function is found). Pins the function's active version and "
                "warms a worker for it (best effort: a failure is logged, the session still "
                "returned); the session lives `FNGATE_SESSION_TTL_S` (default 7200 s) from "
                "creation, and an execute is not tied to one worker. 409 `CONFLICT` while the "
                "function has no successfully built version, or when the session id is "
                "another caller's, another function's, closed or expired; 400 "
                "`INVALID_RUNTIME` when its runtime is not installed here. Repeating an "
                "active id (`X-Request-ID`) as the same caller for the same function returns "
                "that session as it stands — `status: \"initialized\"` and its `expires_at` — "
                "without warming again.",
    scopes=EXECUTE_SCOPES, body=InitializeRequest, body_required=False,
    parameters=["Language-Title", "SessionRequestID"], errors=[404, 409],
    replies={200: Reply("The session.", InitializeResponse)},
)
async def initialize(request: Request) -> Response:
    principal = await authenticate(request)
    title = request.headers.get("language-title")
    if not title:
        raise InvalidRequest("the Language-Title header is required",
                             details={"header": "Language-Title"})
    services = services_of(request)
    function = await services.session_service.function_titled(title, principal)
    require_execute(principal, function.language, function.project)
    raw = await read_json(request, empty={})
    body = parse(InitializeRequest, {} if raw is None else raw,  # null: no body, as ever
                 context={"settings": services.settings})
    session = await services.session_service.initialize(
        function, body, session_id=_session_id(request), caller=principal)
    return JSONResponse(InitializeResponse(request_id=session.id,
                                                  expires_at=session.expires_at))


@operation(
    "POST", "/api/v1/execute/{request_id}", operation_id="executeSession", tag="sessions",
    summary="Run the session's function",
    description="Runs the session's pinned version with `params` as the event and answers "
                "with the result; a failed run is an error status here (500 `RUNTIME_ERROR`, "
                "or the run's other error code such as `INTERNAL_ERROR`; 504 `TIMEOUT`), with "
                "`X-Job-ID`. Checked in order: the session is the caller's (`admin`: any) "
                "else 404 `SESSION_NOT_FOUND`; the body and `X-Cache-Control` (400); the "
                "pinned version still runnable (409 `CONFLICT`); the caller's execute scope "
                "for the function (403); the function's `rate_limit` (429 `RATE_LIMITED`); "
                "`params` against `schema.params` (400 `INVALID_PARAMS`, `details.errors`); "
                "the session still active, else 404 `SESSION_NOT_FOUND` (expired or closed). "
                "From there the execute counts, also when served from the cache, and a "
                "session with `retain_session: false` closes. The result cache is used by "
                "default (the function's `cache_ttl` and `cache_scope`); `X-Cache-Control` "
                "changes that per request. Session work waits for a free slot rather than "
                "failing with `CONCURRENCY_LIMIT`." + _ERRORS_NOTE,
    scopes=EXECUTE_SCOPES, body=ExecuteRequest, body_required=False,
    parameters=["request_id", "X-Cache-Control"], errors=[404, 409, 429, 504],
    replies={
        200: Reply("The result. `X-Cache` always; `Age` on a hit; `X-Job-ID` always (a hit "
                   "is recorded as a `cached` job, so function metrics count it).",
                   ExecuteResponse, headers=("X-Cache", "Age", "X-Job-ID")),
        500: Reply("`RUNTIME_ERROR`: the run failed (`details.type` the exception's class, "
                   "`WorkerCrashed`, `OutOfMemory`, `ResultTooLarge`, `InvalidResult`, "
                   "`WorkerLost`; also `message`, `stack_trace`, `line`, `column` where "
                   "known), with `X-Job-ID`; or `INTERNAL_ERROR`.", Error,
                   headers=("X-Job-ID",)),
    },
)
async def execute(request: Request) -> Response:
    session_id = request.path_params["request_id"]
    principal = await authenticate(request)
    sessions = services_of(request).session_service
    # Checked in the order the description gives: each step may refuse.
    session = await sessions.for_execute(session_id, principal)
    body = parse(ExecuteRequest, await read_json(request, empty={}))
    directive = cache_directive(request)
    function = await sessions.pinned_function(session)
    require_execute(principal, function.language, function.project)
    executed = await sessions.execute(session_id, session, function, params=body.params,
                                      cache=directive, caller=principal)
    job = executed.invoked.job
    if job.status != "success":
        raise run_failed(job)
    answer = ExecuteResponse(request_id=session.id, language_title=session.language_title,
                             execution_time=executed.execution_ms,
                             cached=executed.invoked.cache == "HIT", result=job.result)
    return JSONResponse(render_with_result(answer),
                        headers={**cache_headers(executed.invoked), "X-Job-ID": job.id})


@operation(
    "GET", "/api/v1/sessions/{request_id}", operation_id="getSession", tag="sessions",
    summary="A session's state",
    description="Any valid token; a session of another caller is 404 `SESSION_NOT_FOUND` "
                "unless the caller has `admin`. 200 also once it has expired or closed."
                + _ERRORS_NOTE,
    scopes=[], parameters=["request_id"], errors=[404],
    replies={200: Reply("The session.", Session)},
)
async def get_session(request: Request) -> Response:
    session_id = request.path_params["request_id"]
    principal = await authenticate(request)
    session = await services_of(request).session_service.get(session_id, principal)
    return JSONResponse(session_view(session))


@operation(
    "DELETE", "/api/v1/sessions/{request_id}", operation_id="deleteSession", tag="sessions",
    summary="Close a session",
    description="Any valid token, with the visibility of `GET`. Closes it (it stays readable "
                "with `status: closed`); closing an ended session is 204 too." + _ERRORS_NOTE,
    scopes=[], parameters=["request_id"], errors=[404],
    replies={204: Reply("Closed.")},
)
async def delete_session(request: Request) -> Response:
    session_id = request.path_params["request_id"]
    principal = await authenticate(request)
    await services_of(request).session_service.close(session_id, principal)
    return Response(status_code=204)


def session_view(session: SessionRecord) -> Session:
    """The API's Session: its state, not its owner, function or context."""
    return Session.trusted(
        request_id=session.id, language_title=session.language_title, status=session.status,
        created_at=isoformat(session.created_at), expires_at=isoformat(session.expires_at),
        execution_count=session.execution_count,
        last_executed_at=isoformat(session.last_executed_at))


routes = routes_of(initialize, execute, get_session, delete_session)
